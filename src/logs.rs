//! Where the log goes. On a terminal, `up` and `chat` run the console chat, and the worker's
//! and the job queue's INFO lines would scroll through what a person types: there the log goes
//! to a file under the data directory and only warnings reach the screen. Anywhere else (CI,
//! pipes, services) it goes to stderr as always.

use std::path::{Path, PathBuf};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::prelude::*;

use crate::cli::Command;

/// The log file's name under the data directory.
const FILE: &str = "coinsence.log";

#[derive(Debug, PartialEq, Eq)]
pub enum Destination {
    Stderr,
    /// Everything to this file; warnings and errors to the screen too.
    File(PathBuf),
}

/// Where a command logs: to a file when it runs the console chat on a terminal (both its input
/// and its stderr are one), else to stderr.
pub fn destination(command: &Command, stdin_terminal: bool, stderr_terminal: bool) -> Destination {
    let data_dir: &Path = match command {
        Command::Up(args) => &args.data_dir,
        Command::Chat(args) => &args.db.data_dir,
        _ => return Destination::Stderr,
    };
    if stdin_terminal && stderr_terminal {
        Destination::File(data_dir.join(FILE))
    } else {
        Destination::Stderr
    }
}

/// Installs the subscriber; for a file, says once where it is. A file that cannot be opened
/// leaves the log on stderr, with a word why.
pub fn init(filter: EnvFilter, to: Destination) {
    let path = match to {
        Destination::Stderr => return stderr_only(filter),
        Destination::File(path) => path,
    };
    let file = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
        });
    match file {
        Ok(file) => {
            tracing_subscriber::registry()
                .with(
                    tracing_subscriber::fmt::layer()
                        .with_ansi(false)
                        .with_writer(std::sync::Mutex::new(file))
                        .with_filter(filter),
                )
                .with(
                    tracing_subscriber::fmt::layer()
                        .with_writer(std::io::stderr)
                        .with_filter(LevelFilter::WARN),
                )
                .init();
            eprintln!("{}", crate::say::tr!("cli-log-file", path = path.display()));
        }
        Err(e) => {
            stderr_only(filter);
            tracing::warn!(error = %e, "cannot write the log to {}; it goes here", path.display());
        }
    }
}

fn stderr_only(filter: EnvFilter) {
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::Cli;

    fn command(args: &[&str]) -> Command {
        let mut argv = vec!["coinsence"];
        argv.extend_from_slice(args);
        Cli::parse_from(argv).command
    }

    #[test]
    fn on_a_terminal_up_and_chat_log_to_a_file_under_the_data_dir() {
        let up = command(&["up", "--data-dir", "/srv/cs"]);
        assert_eq!(
            destination(&up, true, true),
            Destination::File(PathBuf::from("/srv/cs/coinsence.log"))
        );
        let chat = command(&["chat", "--org", "demo", "--as", "Ben", "--data-dir", "d"]);
        assert_eq!(
            destination(&chat, true, true),
            Destination::File(PathBuf::from("d/coinsence.log"))
        );
    }

    #[test]
    fn through_pipes_and_for_other_commands_the_log_stays_on_stderr() {
        let up = command(&["up", "--data-dir", "/srv/cs"]);
        assert_eq!(destination(&up, false, true), Destination::Stderr);
        assert_eq!(destination(&up, true, false), Destination::Stderr);
        assert_eq!(destination(&up, false, false), Destination::Stderr);
        let serve = command(&["serve", "--database-url", "postgres://x/y"]);
        assert_eq!(destination(&serve, true, true), Destination::Stderr);
    }
}
