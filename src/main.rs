//! The `newswatch` command; everything lives in the library's `cli` module.

fn main() -> std::process::ExitCode {
    newswatch::cli::main()
}
