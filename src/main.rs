fn main() -> std::process::ExitCode {
    limit_malloc_arenas();
    redash_gitops::cli::main()
}

/// glibc gives threads that allocate at once arenas of their own (up to 8 per core), and memory
/// freed into one is not reused by another: a plan that reads and parses on several threads
/// peaked at 155 MB of RSS for 84 MB of live heap (--refresh-children, 10,000 queries); with two
/// arenas, 109 MB at the same speed. MALLOC_ARENA_MAX, when set, still decides.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: sets an allocator parameter, before this program starts any thread.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}
