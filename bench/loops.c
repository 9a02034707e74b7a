/* Syscall-bound loops for the overhead benchmark, run bare and under cordon.
 *
 * Prints the CPU time the loop took in nanoseconds (CLOCK_PROCESS_CPUTIME_ID: user and
 * system time of the process, not time spent waiting for a CPU held by other work),
 * so that a comparison measures the cost per syscall and not the start cost of the run.
 *
 * `getppid-seccomp` first installs a one-instruction seccomp filter that allows everything:
 * the floor any seccomp-based sandbox pays per syscall on this kernel, however short its
 * filter (the kernel's verdict cache skips the program but not the slow entry path).
 *
 * `open-landlock` first enforces a Landlock domain of one rule, read access below FILE's
 * own directory: the floor any Landlock sandbox pays per `open` on this kernel, since the
 * check walks from the file to the nearest rule on every open.
 *
 * usage: loops getppid|getppid-seccomp COUNT | loops open|open-landlock COUNT FILE
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <libgen.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int allow_all_filter(void) {
    struct sock_filter allow[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    struct sock_fprog prog = {.len = 1, .filter = allow};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
        perror("seccomp");
        return 1;
    }
    return 0;
}

static int one_rule_landlock(const char *file) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", file);
    struct landlock_ruleset_attr attr = {
        .handled_access_fs = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |
                             LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR,
    };
    int ruleset = syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
    struct landlock_path_beneath_attr rule = {
        .allowed_access = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR,
        .parent_fd = open(dirname(dir), O_PATH | O_CLOEXEC),
    };
    if (ruleset < 0 || rule.parent_fd < 0 ||
        syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0) != 0 ||
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        syscall(SYS_landlock_restrict_self, ruleset, 0) != 0) {
        perror("landlock");
        return 1;
    }
    close(rule.parent_fd);
    close(ruleset);
    return 0;
}

static int getppid_loop(long n) {
    volatile long sum = 0;
    for (long i = 0; i < n; i++) sum += getppid();
    return 0;
}

static int open_loop(long n, const char *file) {
    for (long i = 0; i < n; i++) {
        int fd = open(file, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            perror(file);
            return 1;
        }
        close(fd);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: loops getppid|getppid-seccomp COUNT | "
                        "loops open|open-landlock COUNT FILE\n");
        return 2;
    }
    long n = atol(argv[2]);
    if (strcmp(argv[1], "getppid-seccomp") == 0) {
        if (allow_all_filter() != 0) return 1;
        argv[1] = "getppid";
    }
    if (strcmp(argv[1], "open-landlock") == 0 && argc > 3) {
        if (one_rule_landlock(argv[3]) != 0) return 1;
        argv[1] = "open";
    }
    long long start = now_ns();
    int rc;
    if (strcmp(argv[1], "getppid") == 0) {
        rc = getppid_loop(n);
    } else if (strcmp(argv[1], "open") == 0 && argc > 3) {
        rc = open_loop(n, argv[3]);
    } else {
        return 2;
    }
    printf("%lld\n", now_ns() - start);
    return rc;
}
