//! Which cgroup hierarchies this host mounts, and where this process sits in each.
//!
//! Read from `/proc/self/mountinfo` (fstype `cgroup` for v1, `cgroup2` for v2; a v1
//! hierarchy's controllers are its super options) and `/proc/self/cgroup` (`0::/path` for
//! v2, `N:memory:/path` for v1). [`detect_from`] parses the two texts and touches nothing;
//! [`detect`] then asks the kernel what the v2 tree offers.

use std::fmt;
use std::path::{Path, PathBuf};

/// The v1 controllers cordon uses: limits (memory, pids) and CPU time accounting.
pub(super) const V1_WANTED: [&str; 3] = ["memory", "pids", "cpuacct"];

/// One mounted hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// Where it is mounted, e.g. `/sys/fs/cgroup/memory`.
    pub mount: PathBuf,
    /// This process's own cgroup in it, as a directory under `mount`.
    pub own: PathBuf,
    /// Controllers it carries: for v1 from the mount options; for v2 from the root's
    /// `cgroup.controllers`, read by [`detect`] (empty from [`detect_from`]).
    pub controllers: Vec<String>,
    /// v2 only: the kernel offers `cgroup.kill` (5.14 and later), probed by [`detect`].
    pub kill: bool,
}

/// The cgroup layout of this host, as this process sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// Pure cgroup v2: one tree carries every controller.
    V2(Hierarchy),
    /// v1 hierarchies carry the controllers; the v2 tree (`/sys/fs/cgroup/unified`)
    /// carries none of them but can still list and kill a whole run.
    Hybrid {
        v1: Vec<Hierarchy>,
        unified: Hierarchy,
    },
    /// v1 hierarchies only.
    V1(Vec<Hierarchy>),
    /// No usable hierarchy is mounted; the text says why.
    None(String),
}

impl Layout {
    /// One line for people: the layout, and each hierarchy with its controllers.
    pub fn describe(&self) -> String {
        let one = |h: &Hierarchy| {
            let controllers = if h.controllers.is_empty() {
                "no controllers".to_string()
            } else {
                h.controllers.join(",")
            };
            let kill = if h.kill { ", cgroup.kill" } else { "" };
            format!("{} ({controllers}{kill})", h.mount.display())
        };
        match self {
            Layout::V2(h) => format!("cgroup v2: {}", one(h)),
            Layout::Hybrid { v1, unified } => {
                let v1: Vec<String> = v1.iter().map(one).collect();
                format!("hybrid: v1 {}; v2 {}", v1.join(", "), one(unified))
            }
            Layout::V1(v1) => {
                let v1: Vec<String> = v1.iter().map(one).collect();
                format!("cgroup v1: {}", v1.join(", "))
            }
            Layout::None(why) => format!("none usable: {why}"),
        }
    }
}

/// Reads this process's view of the host's cgroups.
pub fn detect() -> Layout {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let mut layout = detect_from(&mountinfo, &own);
    match &mut layout {
        Layout::V2(h) | Layout::Hybrid { unified: h, .. } => probe_v2(h),
        Layout::V1(_) | Layout::None(_) => {}
    }
    tracing::debug!(layout = %layout, "cgroup layout");
    layout
}

/// Parses `/proc/self/mountinfo` and `/proc/self/cgroup` texts into a layout.
pub fn detect_from(mountinfo: &str, self_cgroup: &str) -> Layout {
    let mut v1: Vec<Hierarchy> = Vec::new();
    let mut v2 = None;
    for m in mountinfo.lines().filter_map(Mount::parse) {
        match m.fstype {
            "cgroup2" if v2.is_none() => v2 = Some(m.hierarchy(own_path(self_cgroup, None))),
            "cgroup" => {
                let controllers = m.v1_controllers();
                let wanted = controllers.iter().any(|c| V1_WANTED.contains(&c.as_str()));
                if wanted && !v1.iter().any(|h| h.controllers == controllers) {
                    let mut h = m.hierarchy(own_path(self_cgroup, Some(&controllers[0])));
                    h.controllers = controllers;
                    v1.push(h);
                }
            }
            _ => {}
        }
    }
    match (v1.is_empty(), v2) {
        (true, Some(h)) => Layout::V2(h),
        (false, Some(unified)) => Layout::Hybrid { v1, unified },
        (false, None) => Layout::V1(v1),
        (true, None) => Layout::None("no cgroup hierarchy in /proc/self/mountinfo".into()),
    }
}

/// Fills in what only the kernel knows: the v2 root's controllers and `cgroup.kill`.
fn probe_v2(h: &mut Hierarchy) {
    let list = std::fs::read_to_string(h.mount.join("cgroup.controllers")).unwrap_or_default();
    h.controllers = list.split_whitespace().map(str::to_owned).collect();
    // The root cgroup has no cgroup.kill file, so ask the kernel version instead.
    let uname = rustix::system::uname();
    let release = uname.release().to_string_lossy();
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse().unwrap_or(0));
    let version: (u32, u32) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    h.kill = version >= (5, 14);
}

/// This process's path in the hierarchy with `controller` (v2 when `None`).
fn own_path(self_cgroup: &str, controller: Option<&str>) -> Option<String> {
    self_cgroup.lines().find_map(|line| {
        let mut f = line.splitn(3, ':');
        let (id, list, path) = (f.next()?, f.next()?, f.next()?);
        let hit = match controller {
            None => id == "0" && list.is_empty(),
            Some(c) => list.split(',').any(|l| l == c),
        };
        hit.then(|| path.to_owned())
    })
}

/// The fields of one mountinfo line that matter here.
struct Mount<'a> {
    root: String,
    point: PathBuf,
    fstype: &'a str,
    options: &'a str,
}

impl<'a> Mount<'a> {
    fn parse(line: &'a str) -> Option<Self> {
        let (left, right) = line.split_once(" - ")?;
        let left: Vec<&str> = left.split(' ').collect();
        let mut right = right.split(' ');
        let fstype = right.next()?;
        let options = right.nth(1)?;
        Some(Mount {
            root: unescape(left.get(3)?),
            point: PathBuf::from(unescape(left.get(4)?)),
            fstype,
            options,
        })
    }

    /// The controllers a v1 mount carries that matter to cordon (`cpu` kept so a
    /// co-mounted `cpu,cpuacct` hierarchy is recognised as one).
    fn v1_controllers(&self) -> Vec<String> {
        self.options
            .split(',')
            .filter(|o| V1_WANTED.contains(o) || *o == "cpu")
            .map(str::to_owned)
            .collect()
    }

    /// The hierarchy, with this process's cgroup mapped under the mount point. A cgroup
    /// outside what the mount shows (another namespace's view) maps to the mount itself.
    fn hierarchy(&self, own: Option<String>) -> Hierarchy {
        let own = own
            .as_deref()
            .and_then(|p| Path::new(p).strip_prefix(&self.root).ok())
            .filter(|rel| !rel.as_os_str().is_empty())
            .map_or_else(|| self.point.clone(), |rel| self.point.join(rel));
        Hierarchy {
            mount: self.point.clone(),
            own,
            controllers: Vec::new(),
            kill: false,
        }
    }
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut rest = field;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        match rest
            .get(i + 1..i + 4)
            .and_then(|o| u8::from_str_radix(o, 8).ok())
        {
            Some(c) => {
                out.push(char::from(c));
                rest = &rest[i + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kill = |h: &Hierarchy| {
            if h.kill {
                " (cgroup.kill)"
            } else {
                " (no cgroup.kill)"
            }
        };
        match self {
            Layout::V2(h) if h.controllers.is_empty() => {
                write!(f, "v2 at {}: no controllers{}", h.mount.display(), kill(h))
            }
            Layout::V2(h) => {
                let c = h.controllers.join(", ");
                write!(f, "v2 at {}: {c}{}", h.mount.display(), kill(h))
            }
            Layout::Hybrid { v1, unified } => write!(
                f,
                "hybrid: v1 {}; v2 unified tree at {}{}",
                v1_names(v1),
                unified.mount.display(),
                kill(unified)
            ),
            Layout::V1(v1) => write!(f, "v1 only: {}", v1_names(v1)),
            Layout::None(why) => write!(f, "none: {why}"),
        }
    }
}

/// The wanted v1 controllers present, in cordon's order of use.
fn v1_names(v1: &[Hierarchy]) -> String {
    let present = |c: &str| v1.iter().any(|h| h.controllers.iter().any(|x| x == c));
    V1_WANTED
        .into_iter()
        .filter(|c| present(c))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    const HYBRID_SELF: &str =
        "9:name=systemd:/\n8:pids:/\n4:memory:/api/run7\n2:cpuacct:/\n1:cpu:/\n0::/\n";

    const V2: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
30 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate
";
    const V2_SELF: &str = "0::/user.slice/user-1000.slice/session-2.scope\n";

    fn hier(layout: &Layout, controller: &str) -> Hierarchy {
        let Layout::Hybrid { v1, .. } = layout else {
            panic!("not hybrid: {layout:?}")
        };
        let found = v1
            .iter()
            .find(|h| h.controllers.iter().any(|c| c == controller));
        found.cloned().unwrap()
    }

    #[test]
    fn hybrid_host_uses_v1_controllers_and_the_unified_tree() {
        let layout = detect_from(HYBRID, HYBRID_SELF);
        let Layout::Hybrid { v1, unified } = &layout else {
            panic!("{layout:?}")
        };
        assert_eq!(
            v1.len(),
            3,
            "cpu, cpuset and name=systemd are not used: {v1:?}"
        );
        assert_eq!(unified.mount, Path::new("/sys/fs/cgroup/unified"));
        assert_eq!(unified.own, Path::new("/sys/fs/cgroup/unified"));
        let memory = hier(&layout, "memory");
        assert_eq!(memory.own, Path::new("/sys/fs/cgroup/memory/api/run7"));
        assert_eq!(
            hier(&layout, "pids").mount,
            Path::new("/sys/fs/cgroup/pids")
        );
        assert_eq!(
            hier(&layout, "cpuacct").own,
            Path::new("/sys/fs/cgroup/cpuacct")
        );
        let text = layout.to_string();
        assert!(
            text.starts_with("hybrid: v1 memory, pids, cpuacct; v2 unified tree"),
            "{text}"
        );
    }

    #[test]
    fn pure_v2_host_maps_own_cgroup_under_the_mount() {
        let layout = detect_from(V2, V2_SELF);
        let Layout::V2(h) = &layout else {
            panic!("{layout:?}")
        };
        assert_eq!(h.mount, Path::new("/sys/fs/cgroup"));
        let own = "/sys/fs/cgroup/user.slice/user-1000.slice/session-2.scope";
        assert_eq!(h.own, Path::new(own));
        assert!(layout.to_string().starts_with("v2 at /sys/fs/cgroup"));
    }

    #[test]
    fn host_without_cgroups_says_so() {
        let layout = detect_from("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n", "");
        assert!(matches!(layout, Layout::None(_)), "{layout:?}");
        assert!(layout.to_string().starts_with("none: "));
    }

    #[test]
    fn v1_only_host_with_comounted_cpu_and_escaped_mount_point() {
        let info = "\
40 31 0:37 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
41 31 0:38 / /mnt/my\\040cgroups rw - cgroup cgroup rw,memory
";
        let layout = detect_from(info, "3:cpu,cpuacct:/a\n2:memory:/b\n");
        let Layout::V1(v1) = &layout else {
            panic!("{layout:?}")
        };
        assert_eq!(v1[0].own, Path::new("/sys/fs/cgroup/cpu,cpuacct/a"));
        assert_eq!(v1[0].controllers, ["cpu", "cpuacct"]);
        assert_eq!(v1[1].own, Path::new("/mnt/my cgroups/b"));
        assert_eq!(layout.to_string(), "v1 only: memory, cpuacct");
    }

    #[test]
    fn own_cgroup_outside_a_namespaced_mount_maps_to_the_mount() {
        let info = "50 1 0:40 /kube/pod1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let Layout::V2(h) = detect_from(info, "0::/kube/pod1/app\n") else {
            panic!()
        };
        assert_eq!(h.own, Path::new("/sys/fs/cgroup/app"));
        let Layout::V2(h) = detect_from(info, "0::/elsewhere\n") else {
            panic!()
        };
        assert_eq!(h.own, Path::new("/sys/fs/cgroup"));
    }

    #[test]
    fn this_host_is_hybrid_with_memory_pids_and_unified() {
        let layout = detect();
        let Layout::Hybrid { unified, .. } = &layout else {
            panic!("expected hybrid here: {layout}")
        };
        assert_eq!(unified.mount, Path::new("/sys/fs/cgroup/unified"));
        assert!(unified.kill, "kernel 6.18 has cgroup.kill");
        assert_eq!(
            hier(&layout, "memory").mount,
            Path::new("/sys/fs/cgroup/memory")
        );
        assert_eq!(
            hier(&layout, "pids").mount,
            Path::new("/sys/fs/cgroup/pids")
        );
    }
}
