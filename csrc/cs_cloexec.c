/* libcurl 7.88 opens the socket pair that wakes a multi handle (its own, and the one behind
 * curl_easy_perform) without close-on-exec, and no callback reaches it. The descriptors a libcurl
 * call opened are what /proc/self/fd lists after it and did not before; the Unix sockets among
 * them are marked close-on-exec, so that a program started with io.popen holds none of them.
 * (A descriptor another thread opened meanwhile is only marked if it is a Unix socket too.) */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/socket.h>

typedef struct {
    int *fds; /* sorted */
    size_t n;
    int ok; /* the listing was read in full */
} cs_fd_list;

static int cs_fd_compare(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static int cs_fd_append(cs_fd_list *list, size_t *cap, int fd) {
    if (list->n == *cap) {
        size_t grown_cap = *cap ? *cap * 2 : 64;
        int *grown = (int *)realloc(list->fds, grown_cap * sizeof *grown);
        if (grown == NULL) return 0;
        list->fds = grown;
        *cap = grown_cap;
    }
    list->fds[list->n++] = fd;
    return 1;
}

/* The open descriptors; not ok where /proc is not mounted or memory ran short. */
static cs_fd_list cs_fds_open(void) {
    cs_fd_list list = {NULL, 0, 0};
    size_t cap = 0;
    struct dirent *entry;
    DIR *dir = opendir("/proc/self/fd");
    if (dir == NULL) return list;
    list.ok = 1;
    while (list.ok && (entry = readdir(dir)) != NULL) {
        char *end;
        long fd = strtol(entry->d_name, &end, 10);
        if (end == entry->d_name || *end != '\0' || fd < 0 || fd > INT_MAX) continue;
        if (fd == dirfd(dir)) continue; /* its own, closed below and free for libcurl again */
        list.ok = cs_fd_append(&list, &cap, (int)fd);
    }
    closedir(dir);
    if (list.n > 1) qsort(list.fds, list.n, sizeof *list.fds, cs_fd_compare);
    return list;
}

static int cs_fd_is_unix_socket(int fd) {
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    return getsockname(fd, (struct sockaddr *)&addr, &len) == 0 && addr.ss_family == AF_UNIX;
}

/* Marks close-on-exec the Unix sockets opened since before was listed, and frees before. */
static void cs_fds_cloexec_since(cs_fd_list *before) {
    cs_fd_list now = cs_fds_open();
    size_t i;
    for (i = 0; before->ok && now.ok && i < now.n; i++) {
        int fd = now.fds[i], flags;
        if (before->n > 0 && bsearch(&fd, before->fds, before->n, sizeof fd, cs_fd_compare) != NULL)
            continue;
        if (!cs_fd_is_unix_socket(fd)) continue;
        flags = fcntl(fd, F_GETFD);
        if (flags >= 0 && !(flags & FD_CLOEXEC)) fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
    }
    free(now.fds);
    free(before->fds);
    before->fds = NULL;
    before->n = 0;
}
