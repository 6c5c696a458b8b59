/*
 * LD_PRELOAD shim that keeps a daemon's listening sockets on loopback.
 *
 * Slurm 22.05's slurmctld and slurmd bind their ports to the wildcard address, and no
 * slurm.conf setting changes that. This bind() rewrites the IPv4 wildcard (INADDR_ANY) to
 * 127.0.0.1 and the IPv6 wildcard (in6addr_any) to ::1, then calls the C library's bind().
 * Every other address, and every non-IP socket, passes through unchanged.
 *
 * Build: cc -O2 -fPIC -shared -o bind_loopback.so bind_loopback.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

typedef int (*bind_function)(int, const struct sockaddr *, socklen_t);

static bind_function real_bind(void)
{
    static bind_function resolved;
    if (resolved == NULL) {
        resolved = (bind_function)dlsym(RTLD_NEXT, "bind");
    }
    return resolved;
}

int bind(int descriptor, const struct sockaddr *address, socklen_t length)
{
    bind_function next = real_bind();
    if (next == NULL) {
        errno = ENOSYS;
        return -1;
    }
    if (address == NULL) {
        return next(descriptor, address, length);
    }

    if (address->sa_family == AF_INET && length >= sizeof(struct sockaddr_in)) {
        struct sockaddr_in copy;
        memcpy(&copy, address, sizeof copy);
        if (copy.sin_addr.s_addr == htonl(INADDR_ANY)) {
            copy.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            return next(descriptor, (const struct sockaddr *)&copy, sizeof copy);
        }
    } else if (address->sa_family == AF_INET6 && length >= sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 copy;
        memcpy(&copy, address, sizeof copy);
        if (memcmp(&copy.sin6_addr, &in6addr_any, sizeof copy.sin6_addr) == 0) {
            copy.sin6_addr = in6addr_loopback;
            return next(descriptor, (const struct sockaddr *)&copy, sizeof copy);
        }
    }
    return next(descriptor, address, length);
}
