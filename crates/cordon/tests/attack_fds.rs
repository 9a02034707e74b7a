//! Descriptor leaks: a careless server starts cordon with descriptors open that it never
//! meant to hand over (a secret file, a live connection). The run reads or writes them.
//!
//! The descriptors are opened by a root shell just before cordon starts (and before the
//! unprivileged caller drops to its uid), so the file is one only root could open by path.
//! The control runs the command directly, without cordon: even `--mode off` closes
//! descriptors above 4, since its stage-2 helper uses 3 and 4 for itself.

mod common;

use common::*;
use std::net::TcpListener;
use std::time::Duration;

const SECRET: &str = "cordon-secret-inherited-fd-3a90";

/// Opens the secret file as descriptor 5 and a connection to the test's listener as 6.
const PRELUDE: &str = r#"exec 5<"$CORDON_TEST_SECRET" 6<>"/dev/tcp/127.0.0.1/$CORDON_TEST_PORT""#;

for_both_callers! {
    /// The command reads a root-only secret through inherited descriptor 5, and writes to the
    /// server's connection through inherited descriptor 6.
    fn uses_inherited_descriptors(caller) {
        let host = host_dir();
        let secret = host.path().join("secret.txt");
        write_file(&secret, SECRET, 0o600);
        let rw = run_dir(caller);
        let code = "report(read=attempt(os.read, 5, 4096),
       write=attempt(os.write, 6, b'EXFIL-' + sys.argv[1].encode()))";

        let run = |confined: bool, marker: &str| {
            let listener = TcpListener::bind("127.0.0.1:0").expect("failed to listen");
            let port = listener.local_addr().expect("bound").port().to_string();
            let mut invocation = cordon(caller).rw(rw.path());
            if !confined {
                invocation = invocation.direct();
            }
            let outcome = invocation
                .host_env("CORDON_TEST_SECRET", &secret.to_string_lossy())
                .host_env("CORDON_TEST_PORT", &port)
                .prelude(PRELUDE)
                .run_py(code, &[marker]);
            let received = tcp_received(&listener, Duration::from_millis(300));
            (outcome, any_contains(&received, marker))
        };

        let (control, exfiltrated) = run(false, "control");
        assert_eq!(value_of(&control.report(), "read"), SECRET, "{control}");
        assert!(exfiltrated, "control did not reach the server's connection\n{control}");

        let (confined, exfiltrated) = run(true, "confined");
        assert!(!confined.mentions(SECRET), "the run read the inherited file\n{confined}");
        assert!(!exfiltrated, "the run wrote to the inherited connection\n{confined}");
        let report = confined.report();
        assert_eq!(error_of(&report, "read"), Some("EBADF"), "{confined}");
        assert_eq!(error_of(&report, "write"), Some("EBADF"), "{confined}");
    }

    /// The command scans every descriptor number for anything beyond stdin, stdout, stderr.
    fn finds_descriptors_beyond_stdio(caller) {
        let host = host_dir();
        let secret = host.path().join("secret.txt");
        write_file(&secret, SECRET, 0o600);
        let rw = run_dir(caller);
        let listener = TcpListener::bind("127.0.0.1:0").expect("failed to listen");
        let port = listener.local_addr().expect("bound").port().to_string();
        let code = "import resource
limit = min(resource.getrlimit(resource.RLIMIT_NOFILE)[0], 65536)
found = []
for fd in range(3, limit):
    try:
        os.fstat(fd)
        found.append(fd)
    except OSError:
        pass
report(found={'ok': True, 'value': found})";
        let base = cordon(caller)
            .rw(rw.path())
            .host_env("CORDON_TEST_SECRET", &secret.to_string_lossy())
            .host_env("CORDON_TEST_PORT", &port)
            .prelude(PRELUDE);

        let control = base.clone().direct().run_py(code, NO_ARGS);
        let found = control.report()["found"]["value"].clone();
        assert!(found.as_array().is_some_and(|fds| fds.contains(&5.into())), "{control}");

        let confined = base.run_py(code, NO_ARGS);
        confined.expect_success();
        assert_eq!(confined.report()["found"]["value"], serde_json::json!([]), "{confined}");
    }
}
