/*
 * fanout: the fan-out load generator, one epoll loop in C.
 *
 * Why C: a generator measures the server only while its own delay is well under the server's.
 * The Python generator added several milliseconds to every delivery at 200,000 deliveries/s
 * (it reported ngIRCd's p99 at 12-14 ms; this one sees 4-6 ms), so it could not tell two
 * servers apart at the latencies that matter.
 *
 * What it does, driven by bench/cgen.py:
 *   1. connects CLIENTS clients (receivers u0.., then senders s0..), at most BATCH registering
 *      at once, and waits for each one's ready marker (the server's welcome, or IRC's 366);
 *   2. waits until the server has gone quiet (join notices flushed), prints
 *      {"event":"ready",...} and waits for a line "go" on stdin, so the caller can read the
 *      server's CPU time at the start of the measured window;
 *   3. sends for DURATION seconds, either paced (RATE messages/s in total, spread evenly over
 *      the senders) or saturating (each sender keeps at most WINDOW messages in flight, as seen
 *      by a witness receiver);
 *   4. waits until every receiver has every message, or nothing arrived for QUIET seconds;
 *   5. prints one JSON object with the counts and the latency distribution, and exits.
 *
 * Latency is taken at the read() that returns the end of each delivered line: one clock read
 * per read() call, for every receiver, every message (no sampling). Each chat line carries its
 * send time: "S<sender>|<seq> T<ns> xxx...", stamped just before the write() that sends it.
 * The single '|' in each chat line is how deliveries are found, whatever the dialect's framing.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

enum dialect { NATIVE, PLAIN, IRC };
enum state { IDLE, CONNECTING, REGISTERING, READY, CLOSED };

/* A partial line kept between reads. Chat lines are a few hundred bytes; longer lines (a welcome
 * listing 1,000 members) carry no delivery, so their overflow is skipped, not kept. */
#define CARRY 2048
#define READ_BUFFER (256 * 1024)
#define MAX_SENDERS 64
/* Latency histogram: 1 us buckets up to 1 s, then 1 ms buckets up to 100 s. */
#define FINE_US 1000000
#define COARSE_MS 100000

struct client {
    int fd;
    int index;
    int sender;          /* sender number, or -1 for a receiver */
    int watch;           /* the sender this receiver witnesses, or -1 */
    enum state state;
    double deadline;     /* registration deadline */
    char marker_tail[32];
    int marker_tail_len;
    char carry[CARRY];
    int carry_len;
    int skipping;        /* inside a line too long to keep */
    long delivered;
    long watched;
    char *out;           /* bytes the socket did not take yet */
    size_t out_len, out_cap;
    int want_out;
};

static struct {
    enum dialect dialect;
    int port, clients, senders, batch, window, payload;
    double duration, rate, quiet;
} cfg = {NATIVE, 0, 1000, 5, 100, 400, 64, 10.0, 0.0, 2.0};

/* Time spent handling events (not waiting for them) since the load began: how busy the
 * generator was, the part of its CPU time that can delay what it measures. */
static double busy_s;

static struct client *all;
static int epfd;
static long *last_seq; /* receivers x senders: the last sequence number each receiver saw */
static long gaps, dups, reads_with_data, lost_clients;
static long sent[MAX_SENDERS];
/* A latency distribution: 1 us buckets up to 1 s, then 1 ms buckets up to 100 s. */
struct histogram {
    uint32_t *fine;
    uint32_t *coarse;
    long samples, over;
    double sum_us;
};
/* Send to the read that returned it: what this generator's clients saw. */
static struct histogram at_read;
/* Send to its arrival in the receiver's socket: the server's latency, whatever the generator's
 * speed. The kernel stamps each arriving segment (SO_TIMESTAMPING); a read returns the stamp of
 * the newest segment it took, so older deliveries in the same read are charged from their
 * send to the newest arrival: never less than their true latency. */
static struct histogram latency;
/* Arrival in the receiver's socket to the read that returned it: the generator's own delay,
 * which must stay well under the servers' latency for the figures to mean anything. */
static struct histogram own_delay;
static char readbuf[READ_BUFFER];

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wall-clock time: the kernel stamps arriving data with it (see on_readable). */
static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what) {
    fprintf(stderr, "fanout: %s: %s\n", what, strerror(errno));
    exit(2);
}

static const char *marker(void) {
    switch (cfg.dialect) {
    case NATIVE: return "\"welcome\"";
    case PLAIN: return "Welcome";
    default: return " 366 "; /* RPL_ENDOFNAMES: the JOIN is complete */
    }
}

static void nick(const struct client *c, char *out, size_t size) {
    if (c->sender >= 0)
        snprintf(out, size, "s%d", c->sender);
    else
        snprintf(out, size, "u%d", c->index);
}

static void set_events(struct client *c) {
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    int want = c->out_len > 0 || c->state == CONNECTING;
    if (want == c->want_out)
        return;
    c->want_out = want;
    if (want)
        ev.events |= EPOLLOUT;
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        die("epoll_ctl");
}

static void close_client(struct client *c) {
    if (c->state == CLOSED)
        return;
    if (c->state == READY)
        lost_clients++;
    c->state = CLOSED;
    close(c->fd);
}

/* Write what is pending and then `data`; keep what the socket does not take. */
static void send_bytes(struct client *c, const char *data, size_t len) {
    if (c->state == CLOSED)
        return;
    if (c->out_len == 0 && c->state != CONNECTING) {
        ssize_t n = write(c->fd, data, len);
        if (n < 0) {
            if (errno != EAGAIN) {
                close_client(c);
                return;
            }
            n = 0;
        }
        data += n;
        len -= (size_t)n;
    }
    if (len == 0)
        return;
    if (c->out_len + len > c->out_cap) {
        c->out_cap = (c->out_len + len) * 2;
        c->out = realloc(c->out, c->out_cap);
        if (!c->out)
            die("realloc");
    }
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
    set_events(c);
}

static void flush_out(struct client *c) {
    while (c->out_len > 0) {
        ssize_t n = write(c->fd, c->out, c->out_len);
        if (n < 0) {
            if (errno != EAGAIN)
                close_client(c);
            return;
        }
        memmove(c->out, c->out + n, c->out_len - (size_t)n);
        c->out_len -= (size_t)n;
    }
    set_events(c);
}

static void send_registration(struct client *c) {
    char name[32], line[256];
    int n;
    nick(c, name, sizeof name);
    switch (cfg.dialect) {
    case NATIVE:
        n = snprintf(line, sizeof line, "{\"type\":\"hello\",\"name\":\"%s\"}\n", name);
        break;
    case PLAIN:
        n = snprintf(line, sizeof line, "%s\n", name);
        break;
    default:
        n = snprintf(line, sizeof line, "NICK %s\r\nUSER %s 0 * :%s\r\nJOIN #bench\r\n", name,
                     name, name);
    }
    c->state = REGISTERING;
    send_bytes(c, line, (size_t)n);
}

static void start_connect(struct client *c) {
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg.port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0)
        die("socket");
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int stamping = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;
    setsockopt(c->fd, SOL_SOCKET, SO_TIMESTAMPING, &stamping, sizeof stamping);
    c->state = CONNECTING;
    c->want_out = 1;
    c->deadline = now_s() + 30.0;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        die("epoll_ctl add");
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS)
        close_client(c);
}

static void histogram_init(struct histogram *h) {
    if (!h->fine) {
        h->fine = calloc(FINE_US, sizeof *h->fine);
        h->coarse = calloc(COARSE_MS, sizeof *h->coarse);
        if (!h->fine || !h->coarse)
            die("calloc");
    } else {
        memset(h->fine, 0, FINE_US * sizeof *h->fine);
        memset(h->coarse, 0, COARSE_MS * sizeof *h->coarse);
    }
    h->samples = h->over = 0;
    h->sum_us = 0;
}

static void record(struct histogram *h, int64_t ns) {
    if (ns < 0)
        ns = 0;
    int64_t us = ns / 1000;
    if (us < FINE_US)
        h->fine[us]++;
    else if (us / 1000 < COARSE_MS)
        h->coarse[us / 1000]++;
    else
        h->over++;
    h->samples++;
    h->sum_us += (double)us;
}

/* A receiver only reads, so its ACKs may wait (delayed-ACK "pingpong" mode). Otherwise the
 * kernel acknowledges a small segment on nearly every read, and on loopback the generator pays
 * for both ends of each ACK: measured with perf, that was over half of its CPU time at 200,000
 * deliveries/s. The kernel leaves the mode whenever a delayed ACK times out, so it is set again
 * after every read (a setsockopt costs far less than the ACK). Both servers' receivers get the
 * same treatment; a real client across a network delays its ACKs the same way. */
static void delay_acks(struct client *c) {
    int zero = 0;
    setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &zero, sizeof zero);
}

static long parse_digits(const char **p, const char *end) {
    long value = 0;
    while (*p < end && **p >= '0' && **p <= '9') {
        value = value * 10 + (**p - '0');
        (*p)++;
    }
    return value;
}

/* One complete line: a delivery if it holds the mark, else maybe a ping to answer. */
static void on_line(struct client *c, const char *line, const char *end, int64_t at,
                    int64_t arrived) {
    const char *bar = memchr(line, '|', (size_t)(end - line));
    if (!bar) {
        if (cfg.dialect == NATIVE && end - line > 14 && memmem(line, (size_t)(end - line),
                                                               "\"ping\"", 6))
            send_bytes(c, "{\"type\":\"pong\"}\n", 16);
        else if (cfg.dialect == IRC && end - line >= 4 && memcmp(line, "PING", 4) == 0) {
            char pong[600];
            size_t len = (size_t)(end - line);
            if (len > 500)
                len = 500;
            memcpy(pong, line, len);
            pong[1] = 'O';
            while (len > 0 && (pong[len - 1] == '\r'))
                len--;
            pong[len++] = '\r';
            pong[len++] = '\n';
            send_bytes(c, pong, len);
        }
        return;
    }
    if (c->state != READY)
        return;
    /* "S<sender>|<seq> T<ns>": the sender's number is the digits just before the bar. */
    const char *s = bar;
    while (s > line && s[-1] >= '0' && s[-1] <= '9')
        s--;
    const char *p = s;
    long sender = parse_digits(&p, bar);
    p = bar + 1;
    long seq = parse_digits(&p, end);
    if (p + 2 > end || p[0] != ' ' || p[1] != 'T')
        return;
    p += 2;
    int64_t stamp = (int64_t)parse_digits(&p, end);
    if (c->sender >= 0)
        return; /* senders read the room too (or the server would cut them), uncounted */
    c->delivered++;
    record(&at_read, at - stamp);
    record(&latency, arrived - stamp);
    if (sender >= 0 && sender < cfg.senders) {
        long *last = &last_seq[(long)c->index * cfg.senders + sender];
        if (seq == *last + 1)
            *last = seq;
        else if (seq <= *last)
            dups++;
        else {
            gaps += seq - *last - 1;
            *last = seq;
        }
        if (c->watch == sender)
            c->watched++;
    }
}

static void on_readable(struct client *c) {
    for (;;) {
        struct iovec iov = {.iov_base = readbuf, .iov_len = sizeof readbuf};
        union {
            char buf[CMSG_SPACE(sizeof(struct scm_timestamping))];
            struct cmsghdr align;
        } control;
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                             .msg_controllen = sizeof control.buf};
        ssize_t n = recvmsg(c->fd, &msg, 0);
        if (n < 0) {
            if (errno == EAGAIN)
                return;
            close_client(c);
            return;
        }
        if (n == 0) {
            close_client(c);
            return;
        }
        int64_t at = now_ns();
        reads_with_data++;
        /* The kernel's stamp of the newest segment this read returned. */
        int64_t arrived = at;
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
            if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SO_TIMESTAMPING) {
                struct scm_timestamping stamps;
                memcpy(&stamps, CMSG_DATA(cm), sizeof stamps);
                int64_t stamp = (int64_t)stamps.ts[0].tv_sec * 1000000000LL +
                                stamps.ts[0].tv_nsec;
                if (stamp && stamp <= at)
                    arrived = stamp;
            }
        if (c->sender < 0 && c->state == READY)
            record(&own_delay, at - arrived);
        if (c->state == READY)
            delay_acks(c);
        if (c->state == REGISTERING) {
            /* The marker may straddle two reads: search the tail of the last read too. */
            const char *m = marker();
            size_t mlen = strlen(m);
            char probe[64 + 32];
            size_t head = (size_t)n < 64 ? (size_t)n : 64;
            memcpy(probe, c->marker_tail, (size_t)c->marker_tail_len);
            memcpy(probe + c->marker_tail_len, readbuf, head);
            if (memmem(probe, (size_t)c->marker_tail_len + head, m, mlen) ||
                memmem(readbuf, (size_t)n, m, mlen))
                c->state = READY;
            size_t keep = mlen - 1 < (size_t)n ? mlen - 1 : (size_t)n;
            memcpy(c->marker_tail, readbuf + n - keep, keep);
            c->marker_tail_len = (int)keep;
        }
        const char *data = readbuf, *end = readbuf + n;
        while (data < end) {
            const char *nl = memchr(data, '\n', (size_t)(end - data));
            if (!nl) {
                size_t rest = (size_t)(end - data);
                if (c->skipping || c->carry_len + rest > CARRY) {
                    c->skipping = 1;
                    c->carry_len = 0;
                } else {
                    memcpy(c->carry + c->carry_len, data, rest);
                    c->carry_len += (int)rest;
                }
                break;
            }
            if (c->skipping) {
                c->skipping = 0;
            } else if (c->carry_len > 0) {
                size_t part = (size_t)(nl - data);
                if (c->carry_len + part <= CARRY) {
                    memcpy(c->carry + c->carry_len, data, part);
                    on_line(c, c->carry, c->carry + c->carry_len + part, at, arrived);
                }
                c->carry_len = 0;
            } else {
                on_line(c, data, nl, at, arrived);
            }
            data = nl + 1;
        }
        if (n < (ssize_t)sizeof readbuf)
            return;
    }
}

static void on_event(struct client *c, uint32_t events) {
    if (c->state == CLOSED)
        return;
    if (c->state == CONNECTING) {
        if (events & (EPOLLERR | EPOLLHUP)) {
            close_client(c);
            return;
        }
        if (events & EPOLLOUT) {
            c->state = IDLE;
            set_events(c);
            send_registration(c);
        }
    }
    if (events & EPOLLIN)
        on_readable(c);
    if (c->state != CLOSED && (events & EPOLLOUT) && c->out_len)
        flush_out(c);
    if (c->state != CLOSED && (events & (EPOLLERR | EPOLLHUP)) && !(events & EPOLLIN))
        close_client(c);
}

/* One pass of the loop; returns the number of events handled. */
static int poll_once(int timeout_ms) {
    struct epoll_event events[512];
    int n = epoll_wait(epfd, events, 512, timeout_ms);
    if (n < 0) {
        if (errno == EINTR)
            return 0;
        die("epoll_wait");
    }
    if (n == 0)
        return 0;
    double began = now_s();
    for (int i = 0; i < n; i++)
        if (events[i].data.ptr)
            on_event(events[i].data.ptr, events[i].events);
    busy_s += now_s() - began;
    return n;
}

static int say(char *out, size_t size, int sender, int64_t stamp) {
    char text[512];
    int head = snprintf(text, sizeof text, "S%d|%ld T%lld ", sender, sent[sender] + 1,
                        (long long)stamp);
    int total = cfg.payload > head ? cfg.payload : head;
    if (total > (int)sizeof text - 1)
        total = (int)sizeof text - 1;
    memset(text + head, 'x', (size_t)(total - head));
    text[total] = 0;
    sent[sender]++;
    switch (cfg.dialect) {
    case NATIVE:
        return snprintf(out, size, "{\"type\":\"say\",\"text\":\"%s\"}\n", text);
    case PLAIN:
        return snprintf(out, size, "%s\n", text);
    default:
        return snprintf(out, size, "PRIVMSG #bench :%s\r\n", text);
    }
}

static void say_now(struct client *c, int count) {
    static char lines[64 * 640];
    size_t len = 0;
    int64_t stamp = now_ns();
    for (int k = 0; k < count && k < 64; k++)
        len += (size_t)say(lines + len, sizeof lines - len, c->sender, stamp);
    send_bytes(c, lines, len);
}

static long total_delivered(void) {
    long total = 0;
    for (int i = 0; i < cfg.clients; i++)
        if (all[i].sender < 0)
            total += all[i].delivered;
    return total;
}

static long total_sent(void) {
    long total = 0;
    for (int i = 0; i < cfg.senders; i++)
        total += sent[i];
    return total;
}

/* In milliseconds. */
static double percentile(const struct histogram *h, double percent) {
    long rank = (long)(percent / 100.0 * (double)(h->samples - 1) + 0.5);
    long seen = 0;
    for (long us = 0; us < FINE_US; us++) {
        seen += h->fine[us];
        if (seen > rank)
            return (double)us / 1000.0;
    }
    for (long ms = 0; ms < COARSE_MS; ms++) {
        seen += h->coarse[ms];
        if (seen > rank)
            return (double)ms;
    }
    return (double)COARSE_MS;
}

static double maximum(const struct histogram *h) {
    if (h->over)
        return (double)COARSE_MS;
    for (long ms = COARSE_MS - 1; ms >= 0; ms--)
        if (h->coarse[ms])
            return (double)ms;
    for (long us = FINE_US - 1; us >= 0; us--)
        if (h->fine[us])
            return (double)us / 1000.0;
    return 0.0;
}

static void print_histogram(const char *name, const struct histogram *h) {
    if (!h->samples)
        return;
    printf(",\"%s\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f,"
           "\"mean\":%.3f,\"samples\":%ld}",
           name, percentile(h, 50), percentile(h, 90), percentile(h, 99), percentile(h, 99.9),
           maximum(h), h->sum_us / (double)h->samples / 1000.0, h->samples);
}

static double cpu_seconds(void) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return (double)usage.ru_utime.tv_sec + (double)usage.ru_utime.tv_usec / 1e6 +
           (double)usage.ru_stime.tv_sec + (double)usage.ru_stime.tv_usec / 1e6;
}

static void usage(void) {
    fprintf(stderr,
            "usage: fanout --port P --dialect native|plain|irc [--clients N] [--senders S]\n"
            "              [--duration SECONDS] [--rate MSGS_PER_S | --window W] [--batch B]\n"
            "              [--payload CHARS] [--quiet SECONDS]\n"
            "--rate 0 (the default) saturates: each sender keeps at most --window messages in\n"
            "flight. Prints {\"event\":\"ready\"} once registered, waits for \"go\" on stdin,\n"
            "then prints the result as one JSON object.\n");
    exit(2);
}

static void parse_args(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (i + 1 >= argc)
            usage();
        const char *value = argv[++i];
        if (!strcmp(arg, "--port")) cfg.port = atoi(value);
        else if (!strcmp(arg, "--clients")) cfg.clients = atoi(value);
        else if (!strcmp(arg, "--senders")) cfg.senders = atoi(value);
        else if (!strcmp(arg, "--batch")) cfg.batch = atoi(value);
        else if (!strcmp(arg, "--window")) cfg.window = atoi(value);
        else if (!strcmp(arg, "--payload")) cfg.payload = atoi(value);
        else if (!strcmp(arg, "--duration")) cfg.duration = atof(value);
        else if (!strcmp(arg, "--rate")) cfg.rate = atof(value);
        else if (!strcmp(arg, "--quiet")) cfg.quiet = atof(value);
        else if (!strcmp(arg, "--dialect")) {
            if (!strcmp(value, "native")) cfg.dialect = NATIVE;
            else if (!strcmp(value, "plain")) cfg.dialect = PLAIN;
            else if (!strcmp(value, "irc")) cfg.dialect = IRC;
            else usage();
        } else
            usage();
    }
    if (cfg.port <= 0 || cfg.senders < 1 || cfg.senders > MAX_SENDERS ||
        cfg.clients < 2 * cfg.senders || cfg.batch < 1 || cfg.window < 4)
        usage();
}

/* Connect everyone, BATCH registering at a time; returns how many registered. */
static int connect_all(void) {
    int next = 0, pending = 0, registered = 0;
    for (;;) {
        while (next < cfg.clients && pending < cfg.batch) {
            start_connect(&all[next++]);
            pending++;
        }
        if (pending == 0)
            break;
        poll_once(10);
        double now = now_s();
        pending = 0;
        for (int i = 0; i < next; i++) {
            struct client *c = &all[i];
            if (c->state == CONNECTING || c->state == REGISTERING || c->state == IDLE) {
                if (now > c->deadline)
                    close_client(c);
                else
                    pending++;
            }
        }
    }
    for (int i = 0; i < cfg.clients; i++)
        registered += all[i].state == READY;
    return registered;
}

/* Read until nothing has arrived for `quiet` seconds (at most `limit`). */
static void settle(double quiet, double limit) {
    double started = now_s(), last = started;
    while (now_s() - started < limit && now_s() - last < quiet)
        if (poll_once(20) > 0)
            last = now_s();
}

static void wait_for_go(void) {
    char line[64];
    if (!fgets(line, sizeof line, stdin) || strncmp(line, "go", 2) != 0) {
        fprintf(stderr, "fanout: expected \"go\" on stdin\n");
        exit(2);
    }
}

int main(int argc, char **argv) {
    parse_args(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
    all = calloc((size_t)cfg.clients, sizeof *all);
    int receivers = cfg.clients - cfg.senders;
    last_seq = calloc((size_t)receivers * (size_t)cfg.senders, sizeof *last_seq);
    if (!all || !last_seq)
        die("calloc");
    histogram_init(&latency);
    histogram_init(&at_read);
    histogram_init(&own_delay);
    for (int i = 0; i < cfg.clients; i++) {
        all[i].index = i;
        all[i].sender = i >= receivers ? i - receivers : -1;
        /* Sender k's witness is receiver k (the window counts what it has seen). */
        all[i].watch = i < cfg.senders ? i : -1;
        all[i].state = IDLE;
    }
    epfd = epoll_create1(0);
    if (epfd < 0)
        die("epoll_create1");

    double connect_started = now_s();
    int registered = connect_all();
    double connect_s = now_s() - connect_started;
    settle(0.3, 10.0);
    printf("{\"event\":\"ready\",\"registered\":%d,\"connect_s\":%.2f}\n", registered, connect_s);
    fflush(stdout);
    int senders_ready = 0;
    for (int i = receivers; i < cfg.clients; i++)
        senders_ready += all[i].state == READY;
    wait_for_go();

    /* Nothing sent before "go" counts. */
    for (int i = 0; i < cfg.clients; i++)
        all[i].delivered = 0, all[i].watched = 0;
    histogram_init(&latency);
    histogram_init(&at_read);
    histogram_init(&own_delay);
    reads_with_data = 0;
    long lost_before = lost_clients;

    busy_s = 0;
    double cpu_start = cpu_seconds();
    double started = now_s(), until = started + cfg.duration;
    if (senders_ready == cfg.senders && registered == cfg.clients) {
        if (cfg.rate > 0) {
            /* Message j is due at started + j / rate, from sender j mod S: an even spread. */
            int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
            struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
            epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &ev);
            long due = 0;
            for (;;) {
                double now = now_s();
                if (now >= until)
                    break;
                while (started + (double)due / cfg.rate <= now) {
                    say_now(&all[receivers + (int)(due % cfg.senders)], 1);
                    due++;
                }
                double next = started + (double)due / cfg.rate;
                struct itimerspec when = {0};
                when.it_value.tv_sec = (time_t)next;
                when.it_value.tv_nsec = (long)((next - (double)(time_t)next) * 1e9);
                timerfd_settime(tfd, TFD_TIMER_ABSTIME, &when, NULL);
                poll_once(-1);
                uint64_t expirations;
                (void)!read(tfd, &expirations, sizeof expirations);
            }
            epoll_ctl(epfd, EPOLL_CTL_DEL, tfd, NULL);
            close(tfd);
        } else {
            while (now_s() < until) {
                for (int k = 0; k < cfg.senders; k++) {
                    struct client *s = &all[receivers + k];
                    long room = cfg.window - (sent[k] - all[k].watched);
                    if (s->state == READY && s->out_len == 0 && room >= cfg.window / 4)
                        say_now(s, room < 64 ? (int)room : 64);
                }
                poll_once(5);
            }
        }
    }
    double elapsed = now_s() - started;
    long window_deliveries = total_delivered();
    double cpu_sending = cpu_seconds() - cpu_start;
    double busy_sending = busy_s;
    long sent_total = total_sent();
    long expected = sent_total * receivers;
    double last = now_s();
    long seen = window_deliveries;
    while (seen < expected && now_s() - last < cfg.quiet) {
        if (poll_once(50) > 0) {
            long now_seen = total_delivered();
            if (now_seen != seen)
                last = now_s();
            seen = now_seen;
        }
    }
    long delivered = total_delivered();
    printf("{\"registered\":%d,\"connect_s\":%.2f,\"sent\":%ld,\"expected\":%ld,"
           "\"delivered\":%ld,\"window_deliveries\":%ld,\"elapsed_s\":%.3f,"
           "\"reads\":%ld,\"lost_clients\":%ld,\"gaps\":%ld,\"duplicates\":%ld,"
           "\"generator_cpu_s\":%.3f,\"generator_busy_s\":%.3f,"
           "\"samples\":%ld",
           registered, connect_s, sent_total, expected, delivered, window_deliveries, elapsed,
           reads_with_data, lost_clients - lost_before, gaps, dups, cpu_sending, busy_sending,
           latency.samples);
    print_histogram("latency_ms", &latency);
    print_histogram("at_read_ms", &at_read);
    print_histogram("generator_delay_ms", &own_delay);
    printf("}\n");
    fflush(stdout);
    return 0;
}
