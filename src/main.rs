//! The `ci-attest` command line: a thin layer of clap commands over the library.
#![forbid(unsafe_code)]

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
