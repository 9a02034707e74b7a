//! Terminal injection: cordon is started from an interactive terminal, and the run pushes
//! characters into that terminal's input queue with TIOCSTI. Whatever it pushes would be
//! read and executed by the user's shell once cordon exits.

mod common;

use common::*;

/// The host side: runs cordon with a fresh pty as its controlling terminal.
const PTY_HOST: &str = include_str!("common/pty_host.py");

/// Pushes a marker line through stdin, stdout and `/dev/tty`.
const INJECT: &str = "import fcntl, termios
line = (sys.argv[1] + '\\n').encode()
def inject(fd):
    for ch in line:
        fcntl.ioctl(fd, termios.TIOCSTI, bytes([ch]))
def via_dev_tty():
    inject(os.open('/dev/tty', os.O_RDWR))
report(stdin=attempt(inject, 0), stdout=attempt(inject, 1), dev_tty=attempt(via_dev_tty))";

/// The result of one run under a terminal: the host driver's record, and the attack's.
struct TerminalRun {
    host: serde_json::Value,
    attack: serde_json::Value,
    outcome: Outcome,
}

fn under_terminal(caller: Caller, mode: &str, marker: &str) -> TerminalRun {
    let rw = run_dir(caller);
    let outcome = cordon(caller)
        .rw(rw.path())
        .mode(mode)
        .launcher(&[PYTHON, "-c", PTY_HOST])
        .run_py(INJECT, &[marker]);
    outcome.expect_success();
    let host = outcome.report();
    let output = host["output"].as_str().unwrap_or_default();
    let attack = output
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l.trim()).ok())
        .unwrap_or_else(|| panic!("the attack printed no report on the terminal\n{outcome}"));
    TerminalRun {
        host,
        attack,
        outcome,
    }
}

for_both_callers! {
    /// The command injects a line into its controlling terminal with TIOCSTI.
    fn injects_into_terminal_with_tiocsti(caller) {
        let marker = unique("echo injected");
        let control = under_terminal(caller, "off", &marker);
        assert!(succeeded(&control.attack, "stdin"), "control: {}", control.outcome);
        let pending = control.host["pending"].as_str().unwrap_or_default();
        assert!(pending.contains(&marker), "control injected nothing\n{}", control.outcome);

        let confined = under_terminal(caller, "auto", &marker);
        let pending = confined.host["pending"].as_str().unwrap_or_default();
        assert!(!pending.contains(&marker), "the run injected input\n{}", confined.outcome);
        for step in ["stdin", "stdout", "dev_tty"] {
            assert!(!succeeded(&confined.attack, step), "{step}\n{}", confined.outcome);
        }
    }
}
