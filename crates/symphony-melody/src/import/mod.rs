//! Imports of other tools' workflow files into melodies, one module per tool. An import reads
//! bytes and returns a melody that loads, or every problem at once; it never validates against
//! a catalog (the step types it uses live in the conductor).

pub mod superoptix;
