//! The machinery behind the command list in [`super`]: the `commands!` macro that turns each
//! declaration into a dispatch arm and an entry of [`super::COMMANDS`], and what an entry holds.
//!
//! An entry describes its argument and result types through ts-rs ([`WireType`]), so the
//! TypeScript client and the doc table are rendered from the Rust types themselves
//! ([`super::render`]); nothing here is written a second time by hand.

use serde::de::DeserializeOwned;
use serde_json::Value;
use ts_rs::{Config, Dependency, ExportError, TypeVisitor, TS};

use crate::error::HostError;

/// One app command as the adapters, the UI client and the docs know it.
#[derive(Clone, Copy)]
pub struct Command {
    /// Its name, as the UI sends it (`openMelody`): the Tauri `call`'s `command`, the HTTP
    /// route `POST /api/<name>`.
    pub name: &'static str,
    /// What it does, from its `///` lines (the doc table's text and the TypeScript comment).
    pub doc: &'static str,
    /// Where it can be called.
    pub place: Place,
    /// How the UI's method takes the arguments.
    pub ui_args: UiArgs,
    /// Its arguments object.
    pub args: WireType,
    /// Its answer.
    pub result: WireType,
}

/// Where a command can be called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Through [`crate::Host::call`]: the desktop app's `call` and `symphony serve`'s routes.
    Host,
    /// Only in the desktop app, which shows a native dialog for a person to answer; the app
    /// implements it by hand, and `Host::call` refuses it with `HostError::NeedsPerson`.
    Desktop,
}

/// How the UI's typed method for a command takes its arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UiArgs {
    /// One parameter per field, in the struct's order (`openRun(runId, afterSeq?)`).
    Fields,
    /// The arguments object as one parameter (`forkRun(args)`), for many optional fields.
    Object,
}

/// A Rust type that crosses the wire, seen through ts-rs.
#[derive(Clone, Copy)]
pub struct WireType {
    /// Its TypeScript name, inline form and imports.
    pub describe: fn(&Config) -> TsType,
    /// Writes its TypeScript file (or, for `Vec<T>` and the like, those of what it holds) and
    /// those of every type it refers to.
    pub export: fn(&Config) -> Result<(), ExportError>,
}

impl WireType {
    /// The wire type `T`.
    pub const fn of<T: TS + 'static + ?Sized>() -> WireType {
        WireType {
            describe: describe::<T>,
            export: export::<T>,
        }
    }
}

/// A type's TypeScript, as [`WireType::describe`] gives it.
pub struct TsType {
    /// How other TypeScript names it (`MelodyDocument`, `Array<PinInfo>`, `string | null`).
    pub name: String,
    /// Its definition written out (`{ runId: string, afterSeq?: number, }` for a struct).
    pub inline: String,
    /// The generated files its name needs imported.
    pub imports: Vec<Dependency>,
}

fn describe<T: TS + 'static + ?Sized>(cfg: &Config) -> TsType {
    let mut imports = Vec::new();
    files_of::<T>(&mut |visit| {
        if let Some(dep) = visit.dependency(cfg) {
            imports.push(dep);
        }
    });
    TsType {
        name: T::name(cfg),
        inline: T::inline(cfg),
        imports,
    }
}

fn export<T: TS + 'static + ?Sized>(cfg: &Config) -> Result<(), ExportError> {
    let mut result = Ok(());
    files_of::<T>(&mut |visit| {
        if result.is_ok() {
            result = (visit.export_all)(cfg);
        }
    });
    result
}

/// A type with a generated file of its own.
struct FileType {
    dependency: fn(&Config) -> Option<Dependency>,
    export_all: fn(&Config) -> Result<(), ExportError>,
}

impl FileType {
    fn dependency(&self, cfg: &Config) -> Option<Dependency> {
        (self.dependency)(cfg)
    }
}

/// Calls `f` with `T` when it has a file of its own, else with the types it is made of that
/// do (`Vec<PinInfo>`: `PinInfo`; `Option<String>`: none).
fn files_of<T: TS + 'static + ?Sized>(f: &mut dyn FnMut(FileType)) {
    struct Generics<'a>(&'a mut dyn FnMut(FileType));
    impl TypeVisitor for Generics<'_> {
        fn visit<U: TS + 'static + ?Sized>(&mut self) {
            files_of::<U>(self.0);
        }
    }
    if T::output_path().is_some() {
        f(FileType {
            dependency: Dependency::from_ty::<T>,
            export_all: T::export_all,
        });
    } else {
        T::visit_generics(&mut Generics(f));
    }
}

/// Reads a command's arguments into its declared struct; `null` counts as `{}`. A mismatch
/// names the command and, through serde, the field (`missing field `path``).
pub(crate) fn parse_args<T: DeserializeOwned>(command: &str, args: Value) -> Result<T, HostError> {
    let args = if args.is_null() {
        Value::Object(Default::default())
    } else {
        args
    };
    serde_json::from_value(args).map_err(|e| HostError::BadArguments {
        command: command.to_owned(),
        message: e.to_string(),
    })
}

/// A command's answer as JSON.
pub(crate) fn to_json<T: serde::Serialize>(value: T) -> Value {
    serde_json::to_value(value).expect("wire types have string keys and serialize")
}

/// Declares the app's commands (see [`super`] for the form). Expands to [`super::COMMANDS`]
/// and `dispatch`, the body of [`crate::Host::call`]: one match arm per command, which reads
/// the arguments into the declared struct and checks that the body answers the declared type.
macro_rules! commands {
    (
        host {$(
            $(#[doc = $doc:literal])*
            $name:ident($host:ident, $args:tt: $Args:ty $(as $object:ident)?) -> $Result:ty $body:block
        )*}
        desktop {$(
            $(#[doc = $ddoc:literal])*
            $dname:ident($DArgs:ty) -> $DResult:ty, refused: $refusal:literal;
        )*}
    ) => {
        /// Every app command, in the order `docs/app-api.md` lists them.
        pub const COMMANDS: &[Command] = &[
            $(
                Command {
                    name: stringify!($name),
                    doc: concat!($($doc, "\n",)*),
                    place: Place::Host,
                    ui_args: commands!(@ui_args $($object)?),
                    args: WireType::of::<$Args>(),
                    result: WireType::of::<$Result>(),
                },
            )*
            $(
                Command {
                    name: stringify!($dname),
                    doc: concat!($($ddoc, "\n",)*),
                    place: Place::Desktop,
                    ui_args: UiArgs::Fields,
                    args: WireType::of::<$DArgs>(),
                    result: WireType::of::<$DResult>(),
                },
            )*
        ];

        /// Runs the command `command` with its arguments as JSON (what [`Host::call`] does).
        pub(crate) async fn dispatch(
            host: &Host,
            command: &str,
            args: Value,
        ) -> Result<Value, HostError> {
            match command {
                $(
                    stringify!($name) => {
                        let $host = host;
                        let $args: $Args = parse_args(command, args)?;
                        let answer: Result<$Result, HostError> = $body;
                        answer.map(to_json)
                    }
                )*
                $(
                    stringify!($dname) => Err(HostError::NeedsPerson($refusal.to_owned())),
                )*
                other => Err(HostError::UnknownCommand(other.to_owned())),
            }
        }
    };
    (@ui_args) => { UiArgs::Fields };
    (@ui_args object) => { UiArgs::Object };
}

pub(crate) use commands;
