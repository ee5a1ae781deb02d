//! Memory a rule allocates, metered per thread, so that an evaluation has a budget in memory
//! as it has one in time.
//!
//! Rhai bounds each string, array and map, not how many a rule holds: 60 variables of 16 MiB
//! pass every one of its limits, and two workers doing that exhaust a 2 GiB address space
//! within the rule's 250 ms. An allocator cannot refuse an allocation without aborting the
//! process, so the meter only counts: [`MeteredAlloc`] wraps the global allocator and keeps,
//! per thread, the bytes allocated less the bytes freed, and the scanner's progress hook stops
//! a rule (`limits.rule_max_memory`) once its thread's count has grown past the budget since
//! the evaluation began. A rule overshoots by at most one operation's allocation, which
//! `rule_max_string_size` bounds.
//!
//! The program installs the meter; an embedder that wants the budget does too:
//!
//! ```
//! use newswatch_engine::memory::MeteredAlloc;
//!
//! #[global_allocator]
//! static ALLOC: MeteredAlloc = MeteredAlloc::system();
//! # fn main() {}
//! ```
//!
//! Without it the count stays at zero and `rule_max_memory` never stops a rule; every other
//! limit holds. The cost is one thread-local addition per allocation.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    /// Bytes this thread allocated less the bytes it freed (memory freed on another thread
    /// than the one that allocated it only makes the count lenient).
    static NET: Cell<i64> = const { Cell::new(0) };
}

/// Adds `bytes` (negative when freed) to this thread's count. Never allocates: the
/// thread-local has a constant initializer and no destructor.
fn add(bytes: i64) {
    let _ = NET.try_with(|n| n.set(n.get().wrapping_add(bytes)));
}

/// The bytes this thread has allocated less those it freed since it started, as counted by
/// [`MeteredAlloc`] (zero when it is not the global allocator).
pub fn thread_allocated() -> i64 {
    NET.try_with(Cell::get).unwrap_or(0)
}

/// A global allocator that counts, per thread, the bytes allocated through it (see the
/// module's documentation).
pub struct MeteredAlloc<A = System>(A);

impl MeteredAlloc<System> {
    /// The system allocator, metered.
    pub const fn system() -> MeteredAlloc<System> {
        MeteredAlloc(System)
    }
}

impl<A> MeteredAlloc<A> {
    /// `inner`, metered.
    pub const fn new(inner: A) -> MeteredAlloc<A> {
        MeteredAlloc(inner)
    }
}

// SAFETY: every call is passed on to the inner allocator unchanged; the meter only counts.
unsafe impl<A: GlobalAlloc> GlobalAlloc for MeteredAlloc<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on.
        let p = unsafe { self.0.alloc(layout) };
        if !p.is_null() {
            add(layout.size() as i64);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on.
        let p = unsafe { self.0.alloc_zeroed(layout) };
        if !p.is_null() {
            add(layout.size() as i64);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is passed on.
        unsafe { self.0.dealloc(ptr, layout) };
        add(-(layout.size() as i64));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract is passed on.
        let p = unsafe { self.0.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            add(new_size as i64 - layout.size() as i64);
        }
        p
    }
}
