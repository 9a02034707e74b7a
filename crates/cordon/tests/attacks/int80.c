/* Makes system calls through the i386 entry point (`int $0x80`) of a 64-bit process, where
 * the numbers are i386's: a seccomp filter that only checks x86-64 numbers lets them pass.
 *   int80 getpid               getpid(2) (i386 number 20)
 *   int80 send IPV4 PORT MARK  socketcall(2) socket + connect, then write(2) the marker
 * Prints one JSON line; arguments live below 4 GiB, where 32-bit pointers can reach them. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

enum { NR_WRITE = 4, NR_GETPID = 20, NR_SOCKETCALL = 102, SYS_SOCKET_ = 1, SYS_CONNECT_ = 3 };

static long int80(long nr, long a, long b, long c) {
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
    return ret;
}

static void step(const char *name, long res, int last) {
    if (res >= 0)
        printf("\"%s\": {\"ok\": true, \"value\": %ld}%s", name, res, last ? "}\n" : ", ");
    else
        printf("\"%s\": {\"ok\": false, \"error\": \"%s\"}%s", name, strerrorname_np((int)-res),
               last ? "}\n" : ", ");
    fflush(stdout);
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "getpid") == 0) {
        long pid = int80(NR_GETPID, 0, 0, 0);
        printf("{");
        step("getpid", pid, 1);
        return 0;
    }
    if (argc != 5 || strcmp(argv[1], "send") != 0) {
        fprintf(stderr, "usage: %s getpid | send IPV4 PORT MARKER\n", argv[0]);
        return 2;
    }
    char *low = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT,
                     -1, 0);
    if (low == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    uint32_t *args = (uint32_t *)low;
    struct sockaddr_in *addr = (struct sockaddr_in *)(low + 64);
    char *msg = low + 256;
    strncpy(msg, argv[4], 1024);

    printf("{");
    args[0] = AF_INET;
    args[1] = SOCK_STREAM;
    args[2] = 0;
    long fd = int80(NR_SOCKETCALL, SYS_SOCKET_, (long)(uintptr_t)args, 0);
    step("socket", fd, fd < 0);
    if (fd < 0)
        return 0;

    addr->sin_family = AF_INET;
    addr->sin_port = htons((unsigned short)atoi(argv[3]));
    inet_pton(AF_INET, argv[2], &addr->sin_addr);
    args[0] = (uint32_t)fd;
    args[1] = (uint32_t)(uintptr_t)addr;
    args[2] = sizeof *addr;
    long res = int80(NR_SOCKETCALL, SYS_CONNECT_, (long)(uintptr_t)args, 0);
    step("connect", res, res < 0);
    if (res < 0)
        return 0;

    step("send", int80(NR_WRITE, fd, (long)(uintptr_t)msg, (long)strlen(msg)), 1);
    return 0;
}
