/*
 * sendmmsg_limit.c - the machine's multicast packet-rate limit, for `npm run bench`.
 *
 * A deliberately minimal C sender (one UDP socket, sendmmsg of a prepared
 * batch, nothing else per packet but a sequence number and a send time) and
 * a recvmmsg sink. The benchmark compiles it with gcc into bench/.build/ and
 * runs it inside its lab namespaces; it is not part of mcast.
 *
 *   sendmmsg_limit send -g GROUP [-p PORT] [-i IFNAME] [-l LEN] [-b BATCH]
 *                       [-t SECS] [-r PPS] [-T TTL] [-f raw|mcast|iperf] [-C] [-L]
 *   sendmmsg_limit recv -g GROUP [-p PORT] [-i IFNAME] [-t SECS] [-R RCVBUF]
 *                       [-G] [-r PPS] [-w IDLE_SECS]
 *
 * send: -r 0 (default) sends as fast as the kernel takes packets; -r PPS
 * paces by elapsed time (packet k is due at k/PPS; all due packets go in one
 * call, at most BATCH), so a paced run is smooth, not bursts of BATCH.
 * -f chooses the payload: "mcast" is an mcast wire-format v1 probe (48-byte
 * header, mcast join counts its loss), "iperf" an iperf2 UDP datagram
 * (32-bit id from 1, send time; negative-id FIN datagrams at the end, so
 * `iperf -s` prints its final report), "raw" zeros with a 64-bit sequence.
 * The socket is not connected (msg_name on every message, as mcast does): on
 * kernel 6.18 a connect()ed multicast socket was ~10% slower with nobody
 * joined (250k vs 290k packets/s, 3 of 3 runs) and no faster with a
 * receiver. -C connects it, to compare. IP_MULTICAST_LOOP is off: with it on
 * (-L; mcast send's and iperf2's default) Linux clones every packet back to
 * the local stack, members or not, which costs ~20% of the packet rate.
 *
 * recv: joins GROUP (bound to the group, SO_RCVBUFFORCE when -R), counts
 * datagrams until SECS after the first one or IDLE_SECS (default 1) of
 * silence, and prints the namespace's UDP RcvbufErrors delta (drops in the
 * socket buffer). -G records kernel receive timestamps (SO_TIMESTAMPNS) and
 * prints the spread of inter-arrival gaps in microseconds. SIGINT/SIGTERM
 * end it early (within 0.1 s), still printing what it counted.
 *
 * Output: one `key=value ...` line on stdout.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <net/if.h>
#include <math.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXBATCH 1024
#define MAXLEN 65507

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t real_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "sendmmsg_limit: %s: %s\n", what, strerror(errno));
	exit(3);
}

static void put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static uint64_t get_be64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

/* "Udp:" counters of the current network namespace (v4 only). */
static void udp_counters(long long *in_dgrams, long long *rcvbuf_errors)
{
	char hdr[4096], val[4096];
	*in_dgrams = *rcvbuf_errors = -1;
	FILE *f = fopen("/proc/net/snmp", "r");
	if (!f)
		return;
	while (fgets(hdr, sizeof hdr, f)) {
		if (strncmp(hdr, "Udp: ", 5) || !fgets(val, sizeof val, f))
			continue;
		char *hs, *vs, *h = strtok_r(hdr, " \n", &hs), *v = strtok_r(val, " \n", &vs);
		for (; h && v; h = strtok_r(NULL, " \n", &hs), v = strtok_r(NULL, " \n", &vs)) {
			if (!strcmp(h, "InDatagrams"))
				*in_dgrams = atoll(v);
			else if (!strcmp(h, "RcvbufErrors"))
				*rcvbuf_errors = atoll(v);
		}
		break;
	}
	fclose(f);
}

struct opts {
	const char *mode, *group, *iface, *format;
	int port, len, batch, ttl, rcvbuf, gaps, connected, loop;
	double secs, rate, idle;
};

static void usage(void)
{
	fprintf(stderr, "usage: sendmmsg_limit send|recv -g GROUP [-p PORT] [-i IFNAME] [-l LEN] [-b BATCH] [-t SECS]\n"
			"                      [-r PPS] [-T TTL] [-f raw|mcast|iperf] [-C] [-L] [-R RCVBUF] [-G] [-w IDLE]\n");
	exit(2);
}

static struct sockaddr_in group_addr(const struct opts *o)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(o->port)};
	if (inet_pton(AF_INET, o->group, &a.sin_addr) != 1) {
		fprintf(stderr, "sendmmsg_limit: not an IPv4 group: %s\n", o->group);
		exit(2);
	}
	return a;
}

static unsigned char bufs[MAXBATCH][2048];
static struct mmsghdr msgs[MAXBATCH];
static struct iovec iovs[MAXBATCH];

enum { FMT_RAW, FMT_MCAST, FMT_IPERF };

/* Write packet `seq`'s per-packet fields into `b`. */
static void stamp(int fmt, unsigned char *b, uint64_t seq, uint64_t rt, uint64_t mono)
{
	switch (fmt) {
	case FMT_MCAST:
		put_be64(b + 24, seq);
		put_be64(b + 32, rt);
		put_be64(b + 40, mono);
		break;
	case FMT_IPERF:
		put_be32(b, (uint32_t)(seq + 1));
		put_be32(b + 4, (uint32_t)(rt / 1000000000ull));
		put_be32(b + 8, (uint32_t)(rt % 1000000000ull / 1000));
		break;
	default:
		memcpy(b, &seq, 8);
	}
}

static int do_send(const struct opts *o)
{
	int fmt = !strcmp(o->format, "mcast") ? FMT_MCAST : !strcmp(o->format, "iperf") ? FMT_IPERF : FMT_RAW;
	if (o->len > (int)sizeof bufs[0] || o->len < (fmt == FMT_MCAST ? 48 : 16))
		usage();
	struct sockaddr_in dst = group_addr(o);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		die("socket");
	unsigned char ttl = (unsigned char)o->ttl;
	if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, 1))
		die("IP_MULTICAST_TTL");
	unsigned char loop = (unsigned char)o->loop;
	setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, 1);
	if (o->iface) {
		struct ip_mreqn m = {.imr_ifindex = (int)if_nametoindex(o->iface)};
		if (!m.imr_ifindex || setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &m, sizeof m))
			die("IP_MULTICAST_IF");
	}
	if (o->connected && connect(fd, (struct sockaddr *)&dst, sizeof dst))
		die("connect");

	uint64_t session = real_ns() ^ ((uint64_t)getpid() << 32);
	for (int i = 0; i < o->batch; i++) {
		unsigned char *b = bufs[i];
		memset(b, 0, o->len);
		if (fmt == FMT_MCAST) {
			memcpy(b, "mcas", 4);
			b[4] = 1; /* version */
			b[5] = 1; /* kind: probe */
			b[6] = 0; /* clock: realtime */
			b[7] = ttl;
			put_be64(b + 8, session);
			put_be32(b + 16, 1); /* sender id */
			b[20] = (unsigned char)(o->len >> 8);
			b[21] = (unsigned char)o->len;
		}
		iovs[i].iov_base = b;
		iovs[i].iov_len = o->len;
		msgs[i].msg_hdr.msg_iov = &iovs[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		if (!o->connected) {
			msgs[i].msg_hdr.msg_name = &dst;
			msgs[i].msg_hdr.msg_namelen = sizeof dst;
		}
	}

	uint64_t seq = 0, errors = 0, calls = 0;
	uint64_t t0 = mono_ns(), end = t0 + (uint64_t)(o->secs * 1e9), now = t0, last = t0;
	double interval = o->rate > 0 ? 1e9 / o->rate : 0;
	while (now < end) {
		int k = o->batch;
		if (interval > 0) {
			uint64_t due = (uint64_t)((double)(now - t0) / interval) + 1;
			if (due <= seq) {
				now = mono_ns();
				continue;
			}
			if (due - seq < (uint64_t)k)
				k = (int)(due - seq);
		}
		uint64_t rt = real_ns();
		for (int i = 0; i < k; i++)
			stamp(fmt, bufs[i], seq + i, rt, now);
		int n = sendmmsg(fd, msgs, k, 0);
		calls++;
		if (n < 0) {
			if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR)
				die("sendmmsg");
			errors++;
			n = 0;
		}
		if (n > 0)
			last = mono_ns();
		seq += n;
		now = interval > 0 || (calls & 15) == 0 ? mono_ns() : now;
	}
	double secs = (double)(last - t0) / 1e9;
	if (fmt == FMT_IPERF) {
		/* iperf2's end of test: the next id, negated. Repeated, as UDP may drop one. */
		for (int r = 0; r < 5; r++) {
			put_be32(bufs[0], (uint32_t)(-(int32_t)(seq + 1)));
			sendto(fd, bufs[0], o->len, 0, (struct sockaddr *)&dst, sizeof dst);
			usleep(20000);
		}
	}
	printf("mode=send format=%s len=%d batch=%d rate=%.0f secs=%.3f sent=%llu pps=%.0f calls=%llu errors=%llu connected=%d loop=%d\n",
	       o->format, o->len, o->batch, o->rate, secs, (unsigned long long)seq, secs > 0 ? seq / secs : 0,
	       (unsigned long long)calls, (unsigned long long)errors, o->connected, o->loop);
	return 0;
}

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double p)
{
	if (!n)
		return 0;
	size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

static int do_recv(const struct opts *o)
{
	struct sockaddr_in grp = group_addr(o);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		die("socket");
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (o->rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &o->rcvbuf, sizeof o->rcvbuf))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &o->rcvbuf, sizeof o->rcvbuf);
	if (o->gaps && setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one))
		die("SO_TIMESTAMPNS");
	if (bind(fd, (struct sockaddr *)&grp, sizeof grp))
		die("bind");
	struct group_req gr = {.gr_interface = o->iface ? if_nametoindex(o->iface) : 0};
	memcpy(&gr.gr_group, &grp, sizeof grp);
	if (setsockopt(fd, IPPROTO_IP, MCAST_JOIN_GROUP, &gr, sizeof gr))
		die("MCAST_JOIN_GROUP");
	int rb = 0;
	socklen_t rbl = sizeof rb;
	getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rb, &rbl);
	struct timeval tv = {.tv_sec = 0, .tv_usec = 100000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

	static char ctrl[MAXBATCH][64];
	static unsigned char rbufs[64][2048];
	int batch = 64;
	for (int i = 0; i < batch; i++) {
		iovs[i].iov_base = rbufs[i];
		iovs[i].iov_len = sizeof rbufs[i];
		msgs[i].msg_hdr.msg_iov = &iovs[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	size_t cap = o->gaps ? 1 << 20 : 0, nts = 0;
	uint64_t *ts = cap ? malloc(cap * sizeof *ts) : NULL;
	long long in0, rbe0, in1, rbe1;
	udp_counters(&in0, &rbe0);
	fprintf(stderr, "recv: joined %s port %d rcvbuf=%d\n", o->group, o->port, rb);
	fflush(stderr);
	uint64_t got = 0, mcast_probes = 0, minseq = UINT64_MAX, maxseq = 0;
	uint64_t tfirst = 0, tlast = 0, tstart = mono_ns();
	struct sigaction sa = {.sa_handler = on_stop};
	sigaction(SIGINT, &sa, NULL); /* no SA_RESTART: recvmmsg returns EINTR */
	sigaction(SIGTERM, &sa, NULL);
	while (!stop_requested) {
		for (int i = 0; i < batch; i++) {
			msgs[i].msg_hdr.msg_control = o->gaps ? ctrl[i] : NULL;
			msgs[i].msg_hdr.msg_controllen = o->gaps ? sizeof ctrl[i] : 0;
		}
		int n = recvmmsg(fd, msgs, batch, MSG_WAITFORONE, NULL);
		uint64_t t = mono_ns();
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				die("recvmmsg");
			if (got && (double)(t - tlast) / 1e9 > o->idle)
				break;
			if (!got && t - tstart > 60ull * 1000000000ull)
				break;
			continue;
		}
		if (!got)
			tfirst = t;
		tlast = t;
		for (int i = 0; i < n; i++) {
			const unsigned char *b = rbufs[i];
			if (msgs[i].msg_len >= 48 && !memcmp(b, "mcas", 4)) {
				uint64_t s = get_be64(b + 24);
				mcast_probes++;
				if (s < minseq)
					minseq = s;
				if (s > maxseq)
					maxseq = s;
			}
			if (o->gaps && nts < cap) {
				for (struct cmsghdr *c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c; c = CMSG_NXTHDR(&msgs[i].msg_hdr, c)) {
					if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
						struct timespec k;
						memcpy(&k, CMSG_DATA(c), sizeof k);
						ts[nts++] = (uint64_t)k.tv_sec * 1000000000ull + (uint64_t)k.tv_nsec;
					}
				}
			}
		}
		got += n;
		if ((double)(t - tfirst) / 1e9 >= o->secs)
			break;
	}
	udp_counters(&in1, &rbe1);
	double secs = (double)(tlast - tfirst) / 1e9;
	uint64_t expected = mcast_probes ? maxseq - minseq + 1 : 0;
	printf("mode=recv received=%llu secs=%.3f pps=%.0f rcvbuf=%d udp_in=%lld rcvbuf_errors=%lld probes=%llu probe_lost=%lld",
	       (unsigned long long)got, secs, secs > 0 ? got / secs : 0, rb, in1 - in0, rbe1 - rbe0,
	       (unsigned long long)mcast_probes, (long long)(expected - mcast_probes));
	if (o->gaps && nts > 2) {
		size_t ng = nts - 1;
		double *g = malloc(ng * sizeof *g), sum = 0, sq = 0;
		for (size_t i = 0; i < ng; i++) {
			g[i] = (double)(ts[i + 1] - ts[i]) / 1000.0;
			sum += g[i];
			sq += g[i] * g[i];
		}
		double mean = sum / ng, sd = sq / ng - mean * mean;
		qsort(g, ng, sizeof *g, cmp_double);
		printf(" gaps=%zu gap_mean_us=%.3f gap_sd_us=%.3f gap_min_us=%.3f gap_p1_us=%.3f gap_p5_us=%.3f gap_p50_us=%.3f"
		       " gap_p95_us=%.3f gap_p99_us=%.3f gap_max_us=%.3f",
		       ng, mean, sd > 0 ? sqrt(sd) : 0, g[0], pct(g, ng, 1), pct(g, ng, 5), pct(g, ng, 50),
		       pct(g, ng, 95), pct(g, ng, 99), g[ng - 1]);
		if (o->rate > 0) {
			double ideal = 1e6 / o->rate;
			size_t within = 0;
			for (size_t i = 0; i < ng; i++)
				within += g[i] >= ideal * 0.9 && g[i] <= ideal * 1.1;
			printf(" gap_ideal_us=%.3f gap_within10pct=%.4f", ideal, (double)within / ng);
		}
		free(g);
	}
	printf("\n");
	free(ts);
	return got ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	struct opts o = {.mode = argv[1], .port = 5001, .len = 64, .batch = 64, .ttl = 1, .secs = 5, .idle = 1, .format = "mcast"};
	int c;
	optind = 2;
	while ((c = getopt(argc, argv, "g:p:i:l:b:t:r:T:f:CLR:Gw:")) != -1) {
		switch (c) {
		case 'g': o.group = optarg; break;
		case 'p': o.port = atoi(optarg); break;
		case 'i': o.iface = optarg; break;
		case 'l': o.len = atoi(optarg); break;
		case 'b': o.batch = atoi(optarg); break;
		case 't': o.secs = atof(optarg); break;
		case 'r': o.rate = atof(optarg); break;
		case 'T': o.ttl = atoi(optarg); break;
		case 'f': o.format = optarg; break;
		case 'C': o.connected = 1; break;
		case 'L': o.loop = 1; break;
		case 'R': o.rcvbuf = atoi(optarg); break;
		case 'G': o.gaps = 1; break;
		case 'w': o.idle = atof(optarg); break;
		default: usage();
		}
	}
	if (!o.group || o.batch < 1 || o.batch > MAXBATCH || o.len > MAXLEN)
		usage();
	if (!strcmp(o.mode, "send"))
		return do_send(&o);
	if (!strcmp(o.mode, "recv"))
		return do_recv(&o);
	usage();
	return 2;
}
