/* Syscall-bound loops for the overhead benchmark: run bare and under cordon, compare. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: loops getppid|open COUNT [FILE]\n");
        return 2;
    }
    long n = atol(argv[2]);
    if (strcmp(argv[1], "getppid") == 0) {
        long sum = 0;
        for (long i = 0; i < n; i++) sum += getppid();
        return sum == 42 ? 1 : 0;
    }
    if (strcmp(argv[1], "open") == 0 && argc > 3) {
        for (long i = 0; i < n; i++) {
            int fd = open(argv[3], O_RDONLY | O_CLOEXEC);
            if (fd < 0) return 1;
            close(fd);
        }
        return 0;
    }
    return 2;
}
