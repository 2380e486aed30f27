/*
 * A stand-in exporter for the end-to-end tests: the upstream binary of an exporter that Debian
 * does not build. It is named like that binary (the mirror packs it under each manifest binary
 * name), and it behaves like a minimal Prometheus exporter:
 *
 *   <name> [--web.listen-address=HOST:PORT] [--version] [any other flag, ignored]
 *
 * - serves HTTP/1.0 on HOST:PORT (default: $STANDIN_LISTEN_ADDRESS, else 127.0.0.1:9999; an
 *   empty HOST or ":PORT" listens on every IPv4 address, "[::1]:PORT" on IPv6);
 * - GET /metrics answers `# TYPE <name>_build_info gauge` and `<name>_build_info{version="standin"} 1`,
 *   where <name> is argv[0]'s basename with dashes turned into underscores;
 * - --version prints "<basename> standin" and exits 0;
 * - SIGTERM and SIGINT stop it with exit status 0.
 *
 * Built statically (`gcc -static -Os`, `aarch64-linux-gnu-gcc -static -Os`), so it runs in a
 * FROM-scratch image and under qemu-aarch64-static without a sysroot. Plain C, no
 * getaddrinfo (which a static glibc cannot use reliably): numeric addresses and "localhost".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define DEFAULT_LISTEN "127.0.0.1:9999"
#define LISTEN_FLAG "--web.listen-address"

static volatile sig_atomic_t stopping = 0;

static void on_signal(int sig) {
    (void)sig;
    stopping = 1;
}

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* The metric prefix: the basename, with every character a metric name cannot hold as '_'. */
static void metric_name(const char *base, char *out, size_t size) {
    size_t i = 0;
    for (; base[i] && i + 1 < size; i++) {
        char c = base[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
                 (i > 0 && c >= '0' && c <= '9');
        out[i] = ok ? c : '_';
    }
    out[i] = '\0';
}

static int write_all(int fd, const char *buf, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Parses HOST:PORT (or [V6]:PORT) into a socket address; returns the family, or -1. */
static int parse_listen(const char *spec, struct sockaddr_storage *ss, socklen_t *len) {
    char host[256];
    const char *port_str;
    memset(ss, 0, sizeof(*ss));
    if (spec[0] == '[') {
        const char *end = strchr(spec, ']');
        if (!end || end[1] != ':' || (size_t)(end - spec - 1) >= sizeof(host)) return -1;
        memcpy(host, spec + 1, (size_t)(end - spec - 1));
        host[end - spec - 1] = '\0';
        port_str = end + 2;
    } else {
        const char *colon = strrchr(spec, ':');
        if (!colon || (size_t)(colon - spec) >= sizeof(host)) return -1;
        memcpy(host, spec, (size_t)(colon - spec));
        host[colon - spec] = '\0';
        port_str = colon + 1;
    }
    char *rest;
    long port = strtol(port_str, &rest, 10);
    if (*port_str == '\0' || *rest != '\0' || port < 0 || port > 65535) return -1;
    if (strchr(host, ':')) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((unsigned short)port);
        if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1) return -1;
        *len = sizeof(*a6);
        return AF_INET6;
    }
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    a4->sin_family = AF_INET;
    a4->sin_port = htons((unsigned short)port);
    if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0) {
        a4->sin_addr.s_addr = htonl(INADDR_ANY);
    } else if (strcmp(host, "localhost") == 0) {
        a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else if (inet_pton(AF_INET, host, &a4->sin_addr) != 1) {
        return -1;
    }
    *len = sizeof(*a4);
    return AF_INET;
}

static void serve_one(int fd, const char *metric) {
    char req[4096];
    size_t used = 0;
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    /* Read until the end of the request head (or the buffer is full). */
    while (used < sizeof(req) - 1) {
        ssize_t n = read(fd, req + used, sizeof(req) - 1 - used);
        if (n < 0 && errno == EINTR && !stopping) continue;
        if (n <= 0) break;
        used += (size_t)n;
        req[used] = '\0';
        if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n")) break;
    }
    req[used] = '\0';

    char method[16] = "", path[1024] = "";
    if (sscanf(req, "%15s %1023s", method, path) != 2) {
        const char *bad = "HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        write_all(fd, bad, strlen(bad));
        return;
    }
    char *query = strchr(path, '?');
    if (query) *query = '\0';
    int head = strcmp(method, "HEAD") == 0;
    if (strcmp(method, "GET") != 0 && !head) {
        const char *bad = "HTTP/1.0 405 Method Not Allowed\r\nAllow: GET, HEAD\r\nContent-Length: 0\r\n"
                          "Connection: close\r\n\r\n";
        write_all(fd, bad, strlen(bad));
        return;
    }
    char body[1024];
    const char *status, *type;
    if (strcmp(path, "/metrics") == 0) {
        status = "200 OK";
        type = "text/plain; version=0.0.4; charset=utf-8";
        snprintf(body, sizeof(body), "# TYPE %s_build_info gauge\n%s_build_info{version=\"standin\"} 1\n",
                 metric, metric);
    } else if (strcmp(path, "/") == 0) {
        status = "200 OK";
        type = "text/html; charset=utf-8";
        snprintf(body, sizeof(body),
                 "<html><head><title>%s</title></head><body><a href=\"/metrics\">Metrics</a></body></html>\n",
                 metric);
    } else {
        status = "404 Not Found";
        type = "text/plain; charset=utf-8";
        snprintf(body, sizeof(body), "404 page not found\n");
    }
    char header[512];
    int hlen = snprintf(header, sizeof(header),
                        "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                        status, type, strlen(body));
    if (write_all(fd, header, (size_t)hlen) == 0 && !head) write_all(fd, body, strlen(body));
}

int main(int argc, char **argv) {
    const char *base = base_name(argc > 0 && argv[0] ? argv[0] : "standin");
    char metric[256];
    metric_name(base, metric, sizeof(metric));

    const char *listen_spec = getenv("STANDIN_LISTEN_ADDRESS");
    if (!listen_spec || !*listen_spec) listen_spec = DEFAULT_LISTEN;
    size_t flag_len = strlen(LISTEN_FLAG);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--version") == 0 || strcmp(a, "-version") == 0) {
            printf("%s standin\n", base);
            return 0;
        }
        if (strncmp(a, LISTEN_FLAG, flag_len) == 0 && a[flag_len] == '=') {
            listen_spec = a + flag_len + 1;
        } else if (strcmp(a, LISTEN_FLAG) == 0 && i + 1 < argc) {
            listen_spec = argv[++i];
        }
        /* every other argument is ignored, as the real exporters' flags are not ours to know */
    }

    struct sockaddr_storage addr;
    socklen_t addr_len = 0;
    int family = parse_listen(listen_spec, &addr, &addr_len);
    if (family < 0) {
        fprintf(stderr, "%s: bad listen address %s (expected HOST:PORT)\n", base, listen_spec);
        return 2;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* no SA_RESTART: accept() returns EINTR and the loop ends */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int srv = socket(family, SOCK_STREAM, 0);
    if (srv < 0) {
        perror("socket");
        return 1;
    }
    int one = 1;
    setsockopt(srv, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(srv, (struct sockaddr *)&addr, addr_len) != 0) {
        fprintf(stderr, "%s: cannot listen on %s: %s\n", base, listen_spec, strerror(errno));
        return 1;
    }
    if (listen(srv, 16) != 0) {
        perror("listen");
        return 1;
    }
    fprintf(stderr, "%s standin: listening on %s\n", base, listen_spec);

    while (!stopping) {
        int fd = accept(srv, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR) continue;
            perror("accept");
            return 1;
        }
        serve_one(fd, metric);
        close(fd);
    }
    close(srv);
    return 0;
}
