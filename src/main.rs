//! The `flashcrowd` command: a short dispatch to the CLI, returning its exit code
//! (0 ok, 1 an SLO or check failed, 2 bad input, 3 runtime or I/O failure).

fn main() -> std::process::ExitCode {
    flashcrowd::cli::main()
}
