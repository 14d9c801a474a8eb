fn main() -> std::process::ExitCode {
    redash_gitops::cli::main()
}
