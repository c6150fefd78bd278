//! Writing to stdout without panicking when the reader goes away.
//!
//! `println!` panics when stdout is a closed pipe (`symphony types | head -1`). The CLI never
//! panics on the user's input, so everything meant for stdout goes through [`outln!`], which
//! drops the text instead: a reader that left does not want it.

/// Like `println!`, but ignores write errors (a closed pipe).
macro_rules! outln {
    () => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock());
    }};
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// Like `eprintln!`, but ignores write errors.
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}
