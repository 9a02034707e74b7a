//! A classic-BPF interpreter for seccomp programs, with the kernel's rules around it:
//! the load checks of `seccomp_check_filter`, the stacking rule of `seccomp_run_filters`
//! and the constant emulation of `seccomp_is_const_allow` that feeds the verdict cache.
//!
//! It knows the instructions cordon's programs use (seccompiler's output and the x32
//! guard): `ld [k]`, `and #k`, `ja`, `jeq`/`jgt`/`jge`/`jset #k`, `ret #k`. Anything else
//! fails the validation, so a program that grows a new instruction fails loudly here.

use cordon_seccomp::NamedProgram;
use seccompiler::sock_filter;

const LD_W_ABS: u32 = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
const ALU_AND_K: u32 = libc::BPF_ALU | libc::BPF_AND | libc::BPF_K;
const JA: u32 = libc::BPF_JMP | libc::BPF_JA;
const JEQ_K: u32 = libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K;
const JGT_K: u32 = libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K;
const JGE_K: u32 = libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K;
const JSET_K: u32 = libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K;
const RET_K: u32 = libc::BPF_RET | libc::BPF_K;

/// `struct seccomp_data`, as the kernel fills it for one syscall.
#[derive(Clone, Copy, Debug)]
pub struct SeccompData {
    pub nr: u32,
    pub arch: u32,
    pub instruction_pointer: u64,
    pub args: [u64; 6],
}

impl SeccompData {
    /// The 32-bit word at byte `offset` of the little-endian struct (both arches are).
    fn word(&self, offset: u32) -> u32 {
        let half = |value: u64, high: bool| {
            let bytes = value.to_le_bytes();
            let range = if high { 4..8 } else { 0..4 };
            u32::from_le_bytes(bytes[range].try_into().expect("four bytes"))
        };
        match offset {
            0 => self.nr,
            4 => self.arch,
            8 | 12 => half(self.instruction_pointer, offset == 12),
            16..=60 => {
                let index = usize::try_from((offset - 16) / 8).expect("small");
                half(self.args[index], offset % 8 == 4)
            }
            _ => panic!("load outside seccomp_data at {offset}"),
        }
    }
}

fn code(insn: &sock_filter) -> u32 {
    u32::from(insn.code)
}

/// The checks the kernel makes when a program is loaded: length, known instructions,
/// aligned loads inside `seccomp_data`, jumps inside the program, a `ret` at the end.
pub fn validate(program: &[sock_filter]) -> Result<(), String> {
    if program.is_empty() || program.len() > 4096 {
        return Err(format!("length {}", program.len()));
    }
    for (pc, insn) in program.iter().enumerate() {
        let k = usize::try_from(insn.k).unwrap_or(usize::MAX);
        let target = match code(insn) {
            LD_W_ABS if insn.k >= 64 || insn.k % 4 != 0 => return Err(format!("load at {pc}")),
            JA => pc.saturating_add(1).saturating_add(k),
            JEQ_K | JGT_K | JGE_K | JSET_K => pc + 1 + usize::from(insn.jt.max(insn.jf)),
            LD_W_ABS | ALU_AND_K | RET_K => pc,
            other => return Err(format!("unsupported opcode {other:#x} at {pc}")),
        };
        if target >= program.len() {
            return Err(format!("jump out of the program at {pc}"));
        }
    }
    match program.last().map(code) {
        Some(RET_K) => Ok(()),
        _ => Err("the program does not end with ret".to_string()),
    }
}

/// Runs one program, as `bpf_prog_run` would. Call [`validate`] first.
pub fn run(program: &[sock_filter], data: &SeccompData) -> u32 {
    let mut acc = 0u32;
    let mut pc = 0usize;
    loop {
        let insn = &program[pc];
        pc += 1;
        match code(insn) {
            LD_W_ABS => acc = data.word(insn.k),
            ALU_AND_K => acc &= insn.k,
            JA => pc += usize::try_from(insn.k).expect("validated"),
            JEQ_K | JGT_K | JGE_K | JSET_K => pc += usize::from(branch(insn, acc)),
            RET_K => return insn.k,
            other => panic!("unsupported opcode {other:#x}"),
        }
    }
}

/// How far a conditional jump moves, given the accumulator.
fn branch(insn: &sock_filter, acc: u32) -> u8 {
    let taken = match code(insn) {
        JEQ_K => acc == insn.k,
        JGT_K => acc > insn.k,
        JGE_K => acc >= insn.k,
        JSET_K => acc & insn.k != 0,
        other => panic!("not a conditional jump: {other:#x}"),
    };
    if taken {
        insn.jt
    } else {
        insn.jf
    }
}

/// `ACTION_ONLY()`: the action half of a return value, read as signed.
fn action_only(ret: u32) -> i32 {
    i32::from_ne_bytes((ret & libc::SECCOMP_RET_ACTION_FULL).to_ne_bytes())
}

/// The kernel's verdict over a stack of filters installed in slice order: it walks them
/// from the most recent and replaces its verdict only with a strictly lower action, so
/// the lowest action wins and, among equal actions, the most recently installed filter.
pub fn run_stack(programs: &[NamedProgram], data: &SeccompData) -> u32 {
    let mut verdict = libc::SECCOMP_RET_ALLOW;
    for named in programs.iter().rev() {
        let ret = run(&named.program, data);
        if action_only(ret) < action_only(verdict) {
            verdict = ret;
        }
    }
    verdict
}

/// What `seccomp_is_const_allow` sees for one syscall number and arch: the program's
/// return value if it is fixed by those two alone, `None` once it would read anything else
/// (an argument, the instruction pointer) or meet an instruction the emulator skips.
/// The kernel caches the syscall only if this is `SECCOMP_RET_ALLOW` for every filter.
pub fn constant_return(program: &[sock_filter], nr: u32, arch: u32) -> Option<u32> {
    let mut acc = 0u32;
    let mut pc = 0usize;
    while let Some(insn) = program.get(pc) {
        pc += 1;
        match code(insn) {
            LD_W_ABS if insn.k == 0 => acc = nr,
            LD_W_ABS if insn.k == 4 => acc = arch,
            ALU_AND_K => acc &= insn.k,
            JA => pc += usize::try_from(insn.k).ok()?,
            JEQ_K | JGT_K | JGE_K | JSET_K => pc += usize::from(branch(insn, acc)),
            RET_K => return Some(insn.k),
            _ => return None,
        }
    }
    None
}

/// A return value, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    KillProcess,
    KillThread,
    Trap,
    Errno(i32),
    UserNotif,
    Trace,
    Log,
    Allow,
}

pub fn verdict(ret: u32) -> Verdict {
    let data = i32::from(u16::try_from(ret & libc::SECCOMP_RET_DATA).expect("16 bits"));
    match ret & libc::SECCOMP_RET_ACTION_FULL {
        libc::SECCOMP_RET_KILL_PROCESS => Verdict::KillProcess,
        libc::SECCOMP_RET_KILL_THREAD => Verdict::KillThread,
        libc::SECCOMP_RET_TRAP => Verdict::Trap,
        libc::SECCOMP_RET_ERRNO => Verdict::Errno(data),
        libc::SECCOMP_RET_USER_NOTIF => Verdict::UserNotif,
        libc::SECCOMP_RET_TRACE => Verdict::Trace,
        libc::SECCOMP_RET_LOG => Verdict::Log,
        libc::SECCOMP_RET_ALLOW => Verdict::Allow,
        // The kernel treats an unknown action as a kill of the process.
        _ => Verdict::KillProcess,
    }
}
