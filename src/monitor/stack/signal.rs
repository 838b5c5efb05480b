//! The capture signal: installed once per process, sent to one worker
//! thread, handled with async-signal-safe work only.
//!
//! The signal is a real-time one with no handler yet where there is one
//! (`SIGRTMAX-2` down to `SIGRTMIN+2`); where every one has a handler, the
//! doctor's is chained in front of the existing one, which keeps getting
//! every signal that is not a capture request. A request is sent with
//! `rt_tgsigqueueinfo` (tgkill with a payload): the payload, this process's
//! id and `SI_QUEUE` tell a request from the service's own sends of the
//! same signal, so chaining is exact. Before each send the disposition is
//! read back: if the service replaced the handler since, no request is ever
//! sent again (a default disposition would end the process).

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering::*};
use std::sync::OnceLock;

use crate::state::shard::{current_slot, slot_state, STACK_BYTES};

/// The payload of a capture request: the address of this static.
static MAGIC: u8 = 0;
static PID: AtomicI32 = AtomicI32::new(0);
/// The handler that was installed before ours, and its flags.
static OLD_HANDLER: AtomicUsize = AtomicUsize::new(libc::SIG_DFL);
static OLD_FLAGS: AtomicI32 = AtomicI32::new(0);
/// Set when the service replaced our handler: stop sending.
static LOST: AtomicBool = AtomicBool::new(false);

fn magic() -> usize {
    &MAGIC as *const u8 as usize
}

/// The signal in use, installing the handler on first call; `None` when it
/// could not be installed.
pub(crate) fn signal() -> Option<i32> {
    static SIG: OnceLock<Option<i32>> = OnceLock::new();
    *SIG.get_or_init(install)
}

fn install() -> Option<i32> {
    // SAFETY: sigaction with a valid signal number and initialised structs.
    unsafe {
        let (lo, hi) = (libc::SIGRTMIN() + 2, libc::SIGRTMAX() - 2);
        if lo > hi {
            return None;
        }
        let disposition = |sig: i32| {
            let mut old: libc::sigaction = std::mem::zeroed();
            (libc::sigaction(sig, std::ptr::null(), &mut old) == 0).then_some(old)
        };
        let free = (lo..=hi)
            .rev()
            .find(|&s| disposition(s).is_some_and(|o| o.sa_sigaction == libc::SIG_DFL));
        let sig = free.unwrap_or(hi);
        PID.store(libc::getpid(), Relaxed);
        let old = disposition(sig)?;
        OLD_FLAGS.store(old.sa_flags, Relaxed);
        OLD_HANDLER.store(old.sa_sigaction, Release);
        let mut new: libc::sigaction = std::mem::zeroed();
        new.sa_sigaction = on_signal as *const () as usize;
        new.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
        libc::sigemptyset(&mut new.sa_mask);
        let mut prev: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(sig, &new, &mut prev) != 0 {
            return None;
        }
        if prev.sa_sigaction != old.sa_sigaction {
            // Changed between the two calls: chain what was really there.
            OLD_FLAGS.store(prev.sa_flags, Relaxed);
            OLD_HANDLER.store(prev.sa_sigaction, Release);
        }
        Some(sig)
    }
}

/// Whether our handler is still the one installed for `sig`.
fn still_ours(sig: i32) -> bool {
    if LOST.load(Relaxed) {
        return false;
    }
    // SAFETY: reading a disposition into a local.
    let ours = unsafe {
        let mut cur: libc::sigaction = std::mem::zeroed();
        libc::sigaction(sig, std::ptr::null(), &mut cur) == 0
            && cur.sa_sigaction == on_signal as *const () as usize
    };
    if !ours {
        LOST.store(true, Relaxed);
    }
    ours
}

/// Sends a capture request to thread `tid` of this process.
pub(crate) fn request(sig: i32, tid: i32) -> bool {
    if tid <= 0 || !still_ours(sig) {
        return false;
    }
    // siginfo_t on 64-bit Linux: signo, errno, code, padding, then the
    // `_rt` member: pid, uid, sigval. libc keeps its fields private.
    let mut info = [0u64; 16];
    let p = info.as_mut_ptr() as *mut u8;
    // SAFETY: every write is inside the 128-byte buffer, at the offsets
    // of the kernel's layout; the syscall reads it and nothing else.
    unsafe {
        *(p as *mut i32) = sig;
        *(p.add(8) as *mut i32) = libc::SI_QUEUE;
        *(p.add(16) as *mut i32) = PID.load(Relaxed);
        *(p.add(20) as *mut u32) = libc::getuid();
        *(p.add(24) as *mut usize) = magic();
        libc::syscall(
            libc::SYS_rt_tgsigqueueinfo,
            PID.load(Relaxed),
            tid,
            sig,
            info.as_ptr(),
        ) == 0
    }
}

/// The handler. Only atomics, a bounded copy and, for signals that are not
/// ours, a call to the previous handler.
extern "C" fn on_signal(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo and ucontext; errno is
    // this thread's and restored so the interrupted code never sees ours.
    unsafe {
        let errno = *libc::__errno_location();
        if is_request(info) {
            capture(ctx);
        } else {
            chain(sig, info, ctx);
        }
        *libc::__errno_location() = errno;
    }
}

unsafe fn is_request(info: *mut libc::siginfo_t) -> bool {
    if info.is_null() || (*info).si_code != libc::SI_QUEUE {
        return false;
    }
    (*info).si_pid() == PID.load(Relaxed) && (*info).si_value().sival_ptr as usize == magic()
}

unsafe fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let old = OLD_HANDLER.load(Acquire);
    if old == libc::SIG_IGN {
        return;
    }
    if old == libc::SIG_DFL {
        // What the default would have done: restore it and re-raise (the
        // signal is blocked until we return, then acts as the default).
        let mut dfl: libc::sigaction = std::mem::zeroed();
        dfl.sa_sigaction = libc::SIG_DFL;
        libc::sigaction(sig, &dfl, std::ptr::null_mut());
        libc::syscall(
            libc::SYS_tgkill,
            libc::getpid(),
            libc::syscall(libc::SYS_gettid),
            sig,
        );
        return;
    }
    if OLD_FLAGS.load(Relaxed) & libc::SA_SIGINFO != 0 {
        let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            std::mem::transmute(old);
        f(sig, info, ctx);
    } else {
        let f: extern "C" fn(libc::c_int) = std::mem::transmute(old);
        f(sig);
    }
}

/// Registers of the interrupted context: pc, sp, fp, lr.
#[cfg(target_arch = "x86_64")]
unsafe fn registers(ctx: *mut libc::c_void) -> (u64, u64, u64, u64) {
    let uc = &*(ctx as *const libc::ucontext_t);
    let g = &uc.uc_mcontext.gregs;
    (
        g[libc::REG_RIP as usize] as u64,
        g[libc::REG_RSP as usize] as u64,
        g[libc::REG_RBP as usize] as u64,
        0,
    )
}

#[cfg(target_arch = "aarch64")]
unsafe fn registers(ctx: *mut libc::c_void) -> (u64, u64, u64, u64) {
    let uc = &*(ctx as *const libc::ucontext_t);
    let m = &uc.uc_mcontext;
    (m.pc, m.sp, m.regs[29], m.regs[30])
}

unsafe fn capture(ctx: *mut libc::c_void) {
    let slot = current_slot();
    if slot.is_null() || ctx.is_null() {
        return;
    }
    let slot = &*slot;
    if slot
        .state
        .compare_exchange(slot_state::ARMED, slot_state::WRITING, Acquire, Relaxed)
        .is_err()
    {
        // Abandoned by the watchdog, or never armed: nothing to do.
        return;
    }
    let (pc, sp, fp, lr) = registers(ctx);
    let spu = sp as usize;
    let len = if spu >= slot.stack_lo && spu < slot.stack_hi {
        (slot.stack_hi - spu).min(STACK_BYTES)
    } else {
        0 // On another stack (an alternate one, a fiber): registers only.
    };
    if len > 0 {
        std::ptr::copy_nonoverlapping(spu as *const u8, slot.buf_ptr(), len);
    }
    slot.pc.store(pc, Relaxed);
    slot.sp.store(sp, Relaxed);
    slot.fp.store(fp, Relaxed);
    slot.lr.store(lr, Relaxed);
    slot.len.store(len, Relaxed);
    slot.state.store(slot_state::DONE, Release);
}
