//! `symphony serve`: the app's API and UI over HTTP on loopback (see `symphony-serve`).
//!
//! The first line on stdout is the URL to open, token included
//! (`http://127.0.0.1:PORT/#token=…`: in the fragment, which browsers never send), so scripts and tests can read it; the server then runs
//! until Ctrl-C.
//!
//! The UI is Symphony's own (installed beside the program, or the source tree's `ui/dist` for a
//! development build), never the project's: a project may come from someone else, and a page
//! it supplied would run on the API's origin with the token.

use std::net::SocketAddr;
use std::path::PathBuf;

use symphony_serve::{Config, Server};

use crate::exit::{Exit, Failure, Outcome};

/// Arguments of `symphony serve`.
#[derive(clap::Args)]
pub struct Args {
    /// The project folder (the one holding `melodies/`); the app reads and writes only here.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub project: PathBuf,
    /// Where to listen. Loopback by default; port 0 picks a free one.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub addr: SocketAddr,
    /// The token API requests must carry (default: a random one, printed in the URL).
    #[arg(long, value_name = "T")]
    pub token: Option<String>,
    /// A built UI to serve instead of Symphony's own (a developer's override; it may not be
    /// inside the project, whose files never run as the app).
    #[arg(long, value_name = "DIR")]
    pub ui: Option<PathBuf>,
    /// The run store the board reads and runs are recorded in: give the one a headless
    /// `symphony run` records into to follow its runs on the board.
    #[command(flatten)]
    pub store: super::run::StoreArgs,
}

/// Runs `symphony serve`.
pub async fn run(args: Args) -> Outcome {
    if args.token.as_deref().is_some_and(|t| t.trim().is_empty()) {
        return Err(Failure::new(
            Exit::Usage,
            "--token: the token cannot be empty",
        ));
    }
    if args.ui.is_none() && symphony_serve::shipped_ui().is_none() {
        errln!(
            "note: Symphony's UI is not built, so only the API is served; in Symphony's source tree run `cd ui && npm ci && npm run build`"
        );
    }
    if !args.addr.ip().is_loopback() {
        errln!(
            "warning: listening on {}, which other machines may reach; anyone with the token can run melodies here",
            args.addr
        );
    }
    let server = Server::start(Config {
        project: args.project,
        addr: args.addr,
        token: args.token,
        ui_dir: args.ui,
        host: symphony_host::HostOptions {
            store_path: args.store.path.clone(),
            ..symphony_host::HostOptions::default()
        },
    })
    .await
    .map_err(|e| {
        // A UI folder that cannot be served is the caller's to fix, like a bad flag.
        let exit = match e {
            symphony_serve::ServeError::NoUi(_)
            | symphony_serve::ServeError::UiInProject { .. } => Exit::Usage,
            _ => Exit::Io,
        };
        Failure::new(exit, e.to_string())
    })?;
    outln!("{}", server.url());
    errln!("serving the project's API and Symphony's UI; Ctrl-C stops");
    tokio::select! {
        result = server.wait() => result.map_err(|e| Failure::new(Exit::Io, format!("the server stopped: {e}")))?,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(Exit::Success)
}
