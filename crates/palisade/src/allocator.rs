//! The process's memory allocator: mimalloc instead of glibc's malloc.
//!
//! Why: a proxy allocates and frees small buffers on every request, often on different threads
//! (a request's audit event is built on a worker thread and freed by the audit writer). glibc
//! serves a free from another thread by locking the allocating thread's arena, and that lock
//! showed up on the request path; mimalloc hands such frees back without a lock. Measured on the
//! same run (`ci/bench/logging.sh`-style A/B, small GETs): about 10 % more requests per second and
//! 10 % less CPU per request. See docs/benchmarks.md.
//!
//! Built with `no_thp`: mimalloc would otherwise ask for transparent huge pages on its arenas,
//! and every touched 2 MB page then counts in full towards the dyno's memory.

/// Every Rust allocation in the binary goes through mimalloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Returns memory freed so far to the kernel. mimalloc keeps freed pages for reuse until later
/// allocations purge them; after boot (the rules are compiled twice: once to validate the
/// configuration, once by the rules loader) an idle dyno would otherwise carry several MB it no
/// longer uses. Called once, just before serving.
#[allow(unsafe_code)]
pub fn release_freed_memory() {
    // SAFETY: `mi_collect` has no preconditions: it may be called from any thread at any time and
    // only touches the allocator's own bookkeeping.
    unsafe { libmimalloc_sys::mi_collect(true) }
}
