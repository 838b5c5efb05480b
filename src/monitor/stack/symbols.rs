//! Unwinding a copied stack and naming its frames, off the hot path (in
//! the watchdog), from the loaded modules' own files: `.eh_frame` for the
//! unwind rules (framehop), DWARF line tables for `file:line` (addr2line)
//! and the symbol table where there are none. Built once per process, on
//! the first capture; the files are mapped read-only and kept.
//!
//! A module's DWARF index is built the first time a frame in it is named
//! with its `file:line` ([`Symbolizer::frames_at`]), not with the rest:
//! it is most of the first capture's cost (40 to 50 ms of CPU and 34 MB of
//! memory for the library's test binary, more for a larger one). Samples of a worker in no marked poll
//! are told apart by their symbol names alone
//! ([`Symbolizer::symbol_at`]) until they agree on a stall, so a host that
//! only delays a busy worker, which looks like a stall until the samples
//! disagree, never pays for the index.

use std::borrow::Cow;
use std::ffi::CStr;

use addr2line::gimli;
use framehop::Unwinder;
use object::{Object, ObjectSection, ObjectSymbol};

use crate::state::location::{origin, stable_path, without_generics, Origin};

type Slice = gimli::EndianSlice<'static, gimli::RunTimeEndian>;

#[cfg(target_arch = "x86_64")]
type Arch = framehop::x86_64::UnwinderX86_64<&'static [u8]>;
#[cfg(target_arch = "x86_64")]
type Cache = framehop::x86_64::CacheX86_64;
#[cfg(target_arch = "aarch64")]
type Arch = framehop::aarch64::UnwinderAarch64<&'static [u8]>;
#[cfg(target_arch = "aarch64")]
type Cache = framehop::aarch64::CacheAarch64;

/// Deepest stack walked.
const MAX_FRAMES: usize = 128;

/// One frame, symbolized.
#[derive(Debug, Clone)]
pub(crate) struct Frame {
    pub(crate) function: String,
    /// Stable `file:line`, or `unknown`.
    pub(crate) location: String,
    pub(crate) origin: Origin,
}

struct Module {
    avma: std::ops::Range<u64>,
    bias: u64,
    /// Whether this is the main executable (the service's code lives there).
    main: bool,
    /// The parsed file, kept to build the DWARF index from when first
    /// needed.
    obj: object::File<'static>,
    /// Whether the file has DWARF (`.debug_info`), known without reading it.
    has_dwarf: bool,
    /// The DWARF index and the service's compile directories, built on
    /// first use (`None` inside: the DWARF did not parse).
    dwarf: std::cell::OnceCell<Option<Dwarf>>,
    /// Text symbols: start, end, name; sorted by start.
    symbols: Vec<(u64, u64, &'static str)>,
}

/// A module's DWARF index and the directories its crates were compiled in.
struct Dwarf {
    ctx: addr2line::Context<Slice>,
    comp_dirs: Vec<String>,
}

impl Module {
    /// The DWARF index, built the first time it is asked for.
    fn dwarf(&self) -> Option<&Dwarf> {
        if !self.has_dwarf {
            return None;
        }
        self.dwarf
            .get_or_init(|| load_dwarf(&self.obj).map(|(ctx, comp_dirs)| Dwarf { ctx, comp_dirs }))
            .as_ref()
    }

    /// The text symbol `svma` lies in.
    fn symbol(&self, svma: u64) -> Option<&'static str> {
        self.symbols
            .partition_point(|s| s.0 <= svma)
            .checked_sub(1)
            .map(|i| self.symbols[i])
            .filter(|s| svma < s.1 || s.1 == s.0 + 1)
            .map(|s| s.2)
    }
}

/// The process's modules and their unwind and debug info.
pub(crate) struct Symbolizer {
    modules: Vec<Module>,
    unwinder: Arch,
    cache: Cache,
    /// Frames already named, by address: the captures of one stall, and of
    /// the stalls of one call site, walk the same addresses again.
    named: std::collections::HashMap<u64, Vec<Frame>>,
    /// Symbols already named ([`Symbolizer::symbol_at`]), by address.
    symbol_named: std::collections::HashMap<u64, Frame>,
}

/// Addresses whose frames are kept named at most (then the cache starts
/// over): a few thousand distinct return addresses cover the stacks of a
/// service's stalls.
const NAMED_CAP: usize = 4096;

// SAFETY: the symbolizer is only ever used behind a mutex (one thread at a
// time); its lazily parsed DWARF caches are never shared.
unsafe impl Send for Symbolizer {}

struct Loaded {
    name: String,
    bias: u64,
    exec: Vec<(u64, u64)>,
}

fn loaded_modules() -> Vec<Loaded> {
    unsafe extern "C" fn each(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        data: *mut libc::c_void,
    ) -> libc::c_int {
        let out = &mut *(data as *mut Vec<Loaded>);
        let info = &*info;
        let name = if info.dlpi_name.is_null() {
            String::new()
        } else {
            CStr::from_ptr(info.dlpi_name)
                .to_string_lossy()
                .into_owned()
        };
        let mut exec = Vec::new();
        for i in 0..info.dlpi_phnum as usize {
            let ph = &*info.dlpi_phdr.add(i);
            if ph.p_type == libc::PT_LOAD && ph.p_flags & libc::PF_X != 0 {
                exec.push((ph.p_vaddr, ph.p_vaddr + ph.p_memsz));
            }
        }
        out.push(Loaded {
            name,
            bias: info.dlpi_addr,
            exec,
        });
        0
    }
    let mut out: Vec<Loaded> = Vec::new();
    // SAFETY: the callback only reads the entries it is given and pushes
    // into the vector passed as `data`.
    unsafe { libc::dl_iterate_phdr(Some(each), &mut out as *mut Vec<Loaded> as *mut _) };
    out
}

/// Maps `path` read-only for the life of the process.
fn map(path: &str) -> Option<&'static [u8]> {
    use std::os::fd::AsRawFd;
    let file = std::fs::File::open(path).ok()?;
    let len = file.metadata().ok()?.len() as usize;
    if len == 0 {
        return None;
    }
    // SAFETY: a private read-only mapping of a regular file; it is never
    // unmapped, so the slice lives as long as the process.
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_PRIVATE,
            file.as_raw_fd(),
            0,
        );
        if p == libc::MAP_FAILED {
            return None;
        }
        Some(std::slice::from_raw_parts(p as *const u8, len))
    }
}

fn load_dwarf(obj: &object::File<'static>) -> Option<(addr2line::Context<Slice>, Vec<String>)> {
    let endian = if obj.is_little_endian() {
        gimli::RunTimeEndian::Little
    } else {
        gimli::RunTimeEndian::Big
    };
    obj.section_by_name(".debug_info")?;
    let dwarf = gimli::Dwarf::load(|id| -> Result<Slice, gimli::Error> {
        let data = obj
            .section_by_name(id.name())
            .and_then(|s| s.data().ok())
            .unwrap_or(&[]);
        Ok(gimli::EndianSlice::new(data, endian))
    })
    .ok()?;
    // The directories the service's crates were compiled in, to make their
    // absolute paths workspace-relative.
    let mut dirs: Vec<String> = Vec::new();
    let mut units = dwarf.units();
    while let Ok(Some(header)) = units.next() {
        let Ok(unit) = dwarf.unit(header) else {
            continue;
        };
        if let Some(dir) = unit.comp_dir {
            let dir = String::from_utf8_lossy(dir.slice()).into_owned();
            if !dir.is_empty()
                && origin(&format!("{dir}/x")) == Origin::Service
                && !dirs.contains(&dir)
            {
                dirs.push(dir);
            }
        }
    }
    dirs.sort_by_key(|d| std::cmp::Reverse(d.len()));
    let ctx = addr2line::Context::from_dwarf(dwarf).ok()?;
    Some((ctx, dirs))
}

impl Symbolizer {
    pub(crate) fn new() -> Symbolizer {
        let mut unwinder = Arch::new();
        let mut modules = Vec::new();
        for (i, m) in loaded_modules().into_iter().enumerate() {
            if m.exec.is_empty() {
                continue;
            }
            let main = i == 0 && m.name.is_empty();
            let path = if main {
                "/proc/self/exe".to_string()
            } else {
                m.name.clone()
            };
            let Some(data) = map(&path) else { continue };
            let Ok(obj) = object::File::parse(data) else {
                continue;
            };
            let section = |name: &str| {
                obj.section_by_name(name).map(|s| {
                    (
                        s.address()..s.address() + s.size(),
                        s.data().ok().unwrap_or(&[]),
                    )
                })
            };
            let (text_svma, text) = section(".text").unzip();
            let (eh_frame_svma, eh_frame) = section(".eh_frame").unzip();
            let (eh_frame_hdr_svma, eh_frame_hdr) = section(".eh_frame_hdr").unzip();
            let info = framehop::ExplicitModuleSectionInfo {
                base_svma: 0,
                text_svma,
                text,
                got_svma: section(".got").map(|s| s.0),
                eh_frame_svma,
                eh_frame,
                eh_frame_hdr_svma,
                eh_frame_hdr,
                ..Default::default()
            };
            let lo = m.exec.iter().map(|r| r.0).min().unwrap_or(0) + m.bias;
            let hi = m.exec.iter().map(|r| r.1).max().unwrap_or(0) + m.bias;
            unwinder.add_module(framehop::Module::new(path, lo..hi, m.bias, info));
            let has_dwarf = obj.section_by_name(".debug_info").is_some();
            let mut symbols: Vec<(u64, u64, &'static str)> = obj
                .symbols()
                .chain(obj.dynamic_symbols())
                .filter(|s| s.kind() == object::SymbolKind::Text && s.address() != 0)
                .filter_map(|s| Some((s.address(), s.address() + s.size().max(1), s.name().ok()?)))
                .collect();
            symbols.sort_unstable();
            symbols.dedup_by_key(|s| s.0);
            modules.push(Module {
                avma: lo..hi,
                bias: m.bias,
                main,
                obj,
                has_dwarf,
                dwarf: std::cell::OnceCell::new(),
                symbols,
            });
        }
        Symbolizer {
            modules,
            unwinder,
            cache: Cache::new(),
            named: std::collections::HashMap::new(),
            symbol_named: std::collections::HashMap::new(),
        }
    }

    /// Return addresses (lookup addresses: one byte into the call) of the
    /// copied stack, innermost first, each with its frame's canonical frame
    /// address (the stack pointer before the call into it): how far up the
    /// unwinder had read when it found the caller's return address.
    pub(crate) fn unwind(&mut self, regs: [u64; 4], stack: &[u8]) -> Vec<(u64, u64)> {
        let [pc, sp, fp, _lr] = regs;
        let end = sp.saturating_add(stack.len() as u64);
        let high = std::cell::Cell::new(sp);
        let mut read = |addr: u64| -> Result<u64, ()> {
            let off = addr.checked_sub(sp).ok_or(())? as usize;
            let bytes = stack.get(off..off + 8).ok_or(())?;
            high.set(high.get().max(addr + 8));
            Ok(u64::from_ne_bytes(bytes.try_into().map_err(|_| ())?))
        };
        #[cfg(target_arch = "x86_64")]
        let start = framehop::x86_64::UnwindRegsX86_64::new(pc, sp, fp);
        #[cfg(target_arch = "aarch64")]
        let start = framehop::aarch64::UnwindRegsAarch64::new(_lr, sp, fp);
        let mut addrs = Vec::new();
        let mut reached = Vec::new();
        let mut it = self
            .unwinder
            .iter_frames(pc, start, &mut self.cache, &mut read);
        while addrs.len() < MAX_FRAMES {
            match it.next() {
                Ok(Some(f)) => {
                    addrs.push(f.address_for_lookup());
                    reached.push(high.get());
                }
                _ => break,
            }
        }
        // Frame k's return address was read just below its CFA, while
        // stepping to frame k + 1.
        (0..addrs.len())
            .map(|k| (addrs[k], reached.get(k + 1).copied().unwrap_or(end)))
            .collect()
    }

    /// Every frame at `addr`, inlined ones first (innermost first), named
    /// once per address.
    pub(crate) fn frames_at(&mut self, addr: u64) -> Vec<Frame> {
        if let Some(f) = self.named.get(&addr) {
            return f.clone();
        }
        let frames = self.name_frames_at(addr);
        if self.named.len() >= NAMED_CAP {
            self.named.clear();
        }
        self.named.insert(addr, frames.clone());
        frames
    }

    /// The frame at `addr` by the symbol table alone: the function the
    /// address lies in (no inlined frames, no `file:line`), its origin by
    /// its path. Never builds the DWARF index.
    pub(crate) fn symbol_at(&mut self, addr: u64) -> Frame {
        if let Some(f) = self.symbol_named.get(&addr) {
            return f.clone();
        }
        let frame = match self.modules.iter().find(|m| m.avma.contains(&addr)) {
            None => unknown_module_frame(addr),
            Some(m) => {
                let function = m
                    .symbol(addr - m.bias)
                    .map(|r| without_generics(&format!("{:#}", rustc_demangle::demangle(r))))
                    .unwrap_or_else(|| "(unknown)".into());
                // Only code in the executable can be the service's own.
                let origin = if m.main {
                    origin_of_name(&function)
                } else {
                    Origin::Std
                };
                Frame {
                    function,
                    location: "unknown".into(),
                    origin,
                }
            }
        };
        if self.symbol_named.len() >= NAMED_CAP {
            self.symbol_named.clear();
        }
        self.symbol_named.insert(addr, frame.clone());
        frame
    }

    /// Whether a module's DWARF index has been built (tests).
    #[cfg(test)]
    pub(crate) fn dwarf_built(&self) -> bool {
        self.modules.iter().any(|m| m.dwarf.get().is_some())
    }

    fn name_frames_at(&self, addr: u64) -> Vec<Frame> {
        let Some(m) = self.modules.iter().find(|m| m.avma.contains(&addr)) else {
            return vec![unknown_module_frame(addr)];
        };
        let svma = addr - m.bias;
        let symbol = m.symbol(svma);
        let mut out = Vec::new();
        if let Some(dwarf) = m.dwarf() {
            if let Ok(mut frames) = dwarf.ctx.find_frames(svma).skip_all_loads() {
                let mut found = Vec::new();
                while let Ok(Some(f)) = frames.next() {
                    let raw = f.function.as_ref().and_then(|n| n.raw_name().ok());
                    let raw: Option<Cow<'_, str>> = raw.map(|n| Cow::Owned(n.into_owned()));
                    let file = f.location.as_ref().and_then(|l| l.file);
                    let line = f.location.as_ref().and_then(|l| l.line);
                    found.push((raw, file, line));
                }
                // The outermost frame is the function the address lies in.
                // Line-tables-only builds (`debug = "line-tables-only"`)
                // name it without its path (`spin_for`); the symbol table
                // has the full one, which is what tells service from
                // dependency.
                if let (Some(last), Some(symbol)) = (found.last_mut(), symbol) {
                    let bare =
                        |n: &str| !format!("{:#}", rustc_demangle::demangle(n)).contains("::");
                    if last.0.as_deref().is_none_or(bare) {
                        last.0 = Some(Cow::Borrowed(symbol));
                    }
                }
                for (raw, file, line) in found {
                    out.push(self.frame(m, raw, file, line));
                }
            }
        }
        if out.is_empty() {
            out.push(self.frame(m, symbol.map(Cow::Borrowed), None, None));
        }
        out
    }

    fn frame(
        &self,
        m: &Module,
        raw: Option<Cow<'_, str>>,
        file: Option<&str>,
        line: Option<u32>,
    ) -> Frame {
        let function = raw
            .map(|r| without_generics(&format!("{:#}", rustc_demangle::demangle(&r))))
            .unwrap_or_else(|| "(unknown)".into());
        let origin = match file {
            Some(f) => origin(f),
            // Without line tables: by the function's path, and only code
            // in the executable can be the service's own. Where the
            // executable has line tables but not for this address, it is
            // code built without them: a dependency's (a profile that keeps
            // line tables for the workspace only), not the service's.
            None if m.main && m.dwarf().is_none() => origin_of_name(&function),
            None if m.main => match origin_of_name(&function) {
                Origin::Service => Origin::Dependency,
                o => o,
            },
            None => Origin::Std,
        };
        let origin = if origin == Origin::Service {
            origin_of_name(&function)
        } else {
            origin
        };
        let comp_dirs = m.dwarf().map_or(&[][..], |d| &d.comp_dirs[..]);
        let location = match (file, line) {
            (Some(f), Some(l)) => format!("{}:{l}", stable_path(f, comp_dirs)),
            (Some(f), None) => stable_path(f, comp_dirs),
            _ => "unknown".into(),
        };
        Frame {
            function,
            location,
            origin,
        }
    }
}

/// A frame at an address no loaded module holds.
fn unknown_module_frame(addr: u64) -> Frame {
    Frame {
        function: format!("{addr:#x}"),
        location: "unknown".into(),
        origin: Origin::Std,
    }
}

/// Where a function belongs by its path alone.
fn origin_of_name(function: &str) -> Origin {
    let path = crate_path(function);
    let krate = path.split("::").next().unwrap_or("");
    match krate {
        "std" | "core" | "alloc" | "__rust_begin_short_backtrace" => Origin::Std,
        "tokio" | "tracing" | "tracing_core" | "tracing_subscriber" | "futures_util"
        | "futures_core" => Origin::Dependency,
        "tokio_doctor" => Origin::Doctor,
        // Compiler and runtime intrinsics (`__rust_try`, `__libc_start_main`)
        // and addresses nothing names.
        _ if path.starts_with("__")
            || function.starts_with("(unknown)")
            || function.starts_with("0x") =>
        {
            Origin::Std
        }
        _ => Origin::Service,
    }
}

/// The path whose first segment names the crate a function belongs to:
/// the function's own, or for `<Self as Trait>::f` the self type's, or the
/// trait's when the self type is a primitive or a reference to one
/// (`<u64 as core::iter::range::Step>::forward_unchecked` is core's).
fn crate_path(function: &str) -> &str {
    let Some(rest) = function.strip_prefix('<') else {
        return function;
    };
    let mut self_ty = rest;
    for prefix in ["&", "mut ", "*const ", "*mut ", "dyn ", "["] {
        self_ty = self_ty.trim_start_matches(prefix);
    }
    let end = self_ty.find([' ', '>', ';', ']']).unwrap_or(self_ty.len());
    if self_ty[..end].contains("::") {
        return self_ty;
    }
    match rest.split_once(" as ") {
        Some((_, tr)) => tr,
        None => self_ty,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(never)]
    fn a_function_to_name() -> u64 {
        std::hint::black_box(7)
    }

    /// Naming by the symbol table reads no DWARF; naming with `file:line`
    /// builds the index then, and both agree on the function.
    #[test]
    fn symbols_name_a_frame_without_building_the_dwarf_index() {
        let mut sym = Symbolizer::new();
        assert!(!sym.dwarf_built());
        // A lookup address: one byte into the function, as unwinding gives.
        let addr = a_function_to_name as *const () as u64 + 1;
        let by_symbol = sym.symbol_at(addr);
        assert!(
            by_symbol.function.ends_with("::a_function_to_name"),
            "{by_symbol:?}"
        );
        assert_eq!(by_symbol.origin, Origin::Doctor);
        assert_eq!(by_symbol.location, "unknown");
        assert!(!sym.dwarf_built(), "the symbol table alone named it");
        let full = sym.frames_at(addr);
        assert!(sym.dwarf_built());
        let outer = full.last().expect("a frame");
        assert_eq!(outer.function, by_symbol.function);
        assert!(
            outer.location.starts_with(&format!("{}:", file!())),
            "{outer:?}"
        );
    }

    #[test]
    fn a_qualified_self_type_belongs_to_its_crate_or_its_traits() {
        let of = |f| origin_of_name(f);
        assert_eq!(
            of("<u64 as core::iter::range::Step>::forward_unchecked"),
            Origin::Std
        );
        assert_eq!(of("<&str as core::fmt::Display>::fmt"), Origin::Std);
        assert_eq!(
            of("<tokio::time::Sleep as core::future::Future>::poll"),
            Origin::Dependency
        );
        assert_eq!(of("<shop::Cart as core::fmt::Debug>::fmt"), Origin::Service);
        assert_eq!(
            of("<[u8] as alloc::slice::hack::ConvertVec>::to_vec"),
            Origin::Std
        );
        assert_eq!(of("shop::hash_password"), Origin::Service);
        assert_eq!(of("core::slice::sort::quicksort"), Origin::Std);
        assert_eq!(of("__rust_try"), Origin::Std);
    }
}
