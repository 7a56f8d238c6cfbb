/*
 * Key-generation workers. Each worker is a fresh image of the server's own program (fork, then exec of the
 * binary kmipd runs from, opened at start, so the worker is that same build even after a package upgrade
 * replaced the file), connected by a socketpair as descriptor 3: it inherits nothing of the server's
 * memory, not the TLS private key, not the store, not the keys it handed over earlier, whether it is the
 * first worker or one restarted hours later. The loop watches the parent end (non-blocking) and a worker
 * reads one fixed-size request at a time (blocking), generates the key pair with OpenSSL and writes back
 * one response:
 *
 *   request:  u32 id, u32 op (RSA, EC, DSA, PBKDF2, DERIVE, RECOVER or ABORT), u32 param (RSA or DSA bits,
 *             EC curve NID, PBKDF2 or DERIVE iterations), u32 payload_len, then payload_len bytes: fields of
 *             u32 length and bytes (PBKDF2: salt, password; DERIVE: digest name, u32 output length, salt,
 *             password; RECOVER: n, e, d)
 *   response: u32 id, i32 status, u32 private_len, u32 public_len, u32 message_len,
 *             then message_len bytes of message, the PKCS#8 DER and the SubjectPublicKeyInfo DER (PBKDF2:
 *             the derived bytes and nothing; DERIVE likewise; RECOVER: P and Q)
 *
 * Every length is checked on the parent side before it is used, and so is what the worker made: a key
 * pair must parse, be of the kind asked and hang together, or the worker is killed (it is the same program,
 * but a worker that answers nonsense is broken, and a key handed to a client must be right). Integers are in
 * host order: both ends are the same program on the same machine.
 *
 * Scheduling: caller jobs wait in their owner's FIFO; an idle worker takes the first job of the owner whose
 * turn it is, and that owner goes to the back of the turns (round-robin). Workers that would
 * otherwise be idle pre-generate RSA-2048 pairs for the pool ("background" jobs). Background work never
 * delays a caller: a queued RSA-2048 job adopts a running refill (its key goes to the caller instead of the
 * pool), and any other queued job makes a refill abort (the worker polls its socket from OpenSSL's
 * key-generation callback and gives up when an ABORT arrives), so a worker frees up within milliseconds.
 *
 * Answers reach callers only through deliver_ev, made active when a job is done, so a callback never runs
 * inside keygen_submit() or keygen_cancel() and the state below is never changed under our feet.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <event2/event.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "core/clock.h"
#include "core/keygen.h"
#include "core/log.h"
#include "core/sandbox.h"

#define OP_RSA			1
#define OP_EC			2
#define OP_ABORT		3	/* stop generating job id if still at it; never answered */
#define OP_PBKDF2		4
#define OP_RECOVER		5
#define OP_DSA			6
#define OP_DERIVE		7	/* Derive Key's PBKDF2: param iterations; payload digest, length, salt, password */

#define ST_OK			0
#define ST_FAILED		(-1)
#define ST_ABORTED		1	/* answer to an ABORT that arrived in time */

#define DER_MAX			16384	/* per key, far above RSA-8192's 4.8 KiB PKCS#8 */
#define MSG_MAX			159	/* message bytes on the wire: fits keygen_result.message */
#define PAYLOAD_MAX		8192	/* request payload: RECOVER's n, e, d and their lengths fit */
#define RECOVER_TRIALS		16	/* bases tried: a real key fails all with probability 2^-16 */
#define RECOVER_MAX_SQUARINGS	256

#define QUICK_DEATH_MS		1000	/* dying younger without answering a job = failing to start */
#define GIVE_UP_FAILS		3	/* every worker failed this often in a row: fail queued jobs */
#define RESTART_BASE_MS		100
#define RESTART_MAX_MS		30000
#define REFILL_PAUSE_MAX_MS	60000	/* refills failing: wait at most this long before trying again */
#define REAP_INTERVAL_MS	10
#define REAP_KILL_TRIES		50	/* closed its socket but still not exited after 0.5 s: SIGKILL */
#define FREE_GRACE_MS		500	/* keygen_free: time between SIGTERM and SIGKILL */

struct kg_req {
	uint32_t id;
	uint32_t op;
	uint32_t param;
	uint32_t payload_len;
};

struct kg_resp {
	uint32_t id;
	int32_t status;
	uint32_t private_len;
	uint32_t public_len;
	uint32_t message_len;
};

#define RESP_MAX		(sizeof(struct kg_resp) + MSG_MAX + 2 * DER_MAX)

enum job_state {
	JOB_QUEUED,		/* on kg->queue */
	JOB_RUNNING,		/* on job->worker */
	JOB_DONE,		/* on kg->done, callback due */
};

struct kg_owner;

struct keygen_job {
	TAILQ_ENTRY(keygen_job) entry;	/* on kg->queue (all queued jobs) or kg->done */
	TAILQ_ENTRY(keygen_job) oentry;	/* on owner->queue while queued */
	struct keygen *kg;
	struct kg_owner *owner;		/* NULL for background jobs, refused ones and once cancelled */
	bool capped;			/* counts against max_per_owner */
	struct keygen_spec spec;	/* its pointers cleared: the inputs are in payload */
	uint32_t op, param;		/* the request on the wire */
	uint8_t *payload;		/* its payload (wiped when freed: a password, an RSA private exponent) */
	size_t payload_len;
	enum job_state state;
	uint32_t id;			/* of the request on the wire */
	bool background;		/* nobody waits for it: a pool refill or a cancelled job */
	bool aborting;			/* an ABORT was sent for it */
	unsigned deaths;		/* workers that died while running it */
	keygen_cb cb;
	void *arg;
	struct worker *worker;		/* JOB_RUNNING */
	struct keygen_result *res;	/* allocated at submission, so failing never needs memory */
};
TAILQ_HEAD(job_list, keygen_job);

/* Who asks for jobs: each owner has its own FIFO and a turn in the round-robin while it has jobs queued. */
struct kg_owner {
	TAILQ_ENTRY(kg_owner) entry;	/* on kg->owners while it has jobs outstanding */
	TAILQ_ENTRY(kg_owner) turn;	/* on kg->turns while it has jobs queued */
	bool in_turn;
	struct job_list queue;
	unsigned jobs;			/* its jobs not yet delivered or cancelled */
	unsigned capped;		/* of which count against max_per_owner */
	uint64_t served;		/* when a worker last took one of its jobs (kg->serve_seq), 0: never */
	char name[];
};
TAILQ_HEAD(owner_list, kg_owner);

enum worker_state {
	WORKER_DOWN,		/* not running; restart timer armed */
	WORKER_IDLE,
	WORKER_BUSY,
};

struct worker {
	struct keygen *kg;
	unsigned idx;
	enum worker_state state;
	pid_t pid;
	int fd;				/* parent end of the socketpair, non-blocking */
	struct event *ev;		/* EV_READ | EV_PERSIST on fd */
	struct event *deadline;		/* the running job's timeout */
	struct event *restart;		/* fork again after a death */
	struct keygen_job *job;
	struct timespec started;
	bool answered;			/* answered a job since it was forked */
	unsigned fails;			/* failed starts in a row */
	uint8_t *rbuf;			/* RESP_MAX bytes; holds private keys: wiped after each response */
	size_t rlen;			/* bytes of the current response read */
	size_t need;			/* its total length, once the header is in */
};

struct zombie {
	pid_t pid;
	unsigned idx;
	unsigned tries;
	bool expected;			/* we killed it: no warning when reaped */
};

struct keygen {
	struct event_base *base;
	unsigned nworkers;
	unsigned pool_size;
	unsigned timeout_sec;
	struct timeval tv_plain;
	const struct timeval *tv_timeout;	/* common timeout queue for every job deadline */
	struct worker *workers;
	struct job_list queue;		/* every queued job, in submission order */
	struct owner_list owners;	/* owners with jobs outstanding */
	struct owner_list turns;	/* owners with jobs queued, the next to be served first */
	unsigned max_per_owner;
	uint64_t serve_seq;
	struct job_list done;
	unsigned nqueued;
	unsigned ndone;
	struct keygen_result **pool;
	unsigned pool_ready;
	bool refill_paused;
	unsigned refill_fails;
	struct event *refill_ev;
	struct event *deliver_ev;
	struct event *reap_ev;
	struct zombie *zombies;
	unsigned nzombies;
	unsigned zombie_cap;
	uint32_t next_id;
	struct keygen_stats st;
	int exe_fd;			/* the program's binary, exec'd by each worker */
};

static int worker_spawn(struct worker *w);
static void kg_schedule(struct keygen *kg);

/* Returns a malloc'd formatted string, or NULL. */
static char *
kg_strdup_printf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

/* True for the one spec the pool serves. */
static bool
is_rsa2048(const struct keygen_spec *spec)
{
	return spec->alg == KEYGEN_RSA && spec->bits == 2048;
}

/* True for the curves a KMIP client may ask for: P-256, P-384 and P-521. */
static bool
curve_ok(int nid)
{
	return nid == NID_X9_62_prime256v1 || nid == NID_secp384r1 || nid == NID_secp521r1;
}

/* Checks a spec the way both ends do. Returns true, or false with msg saying why. */
static bool
spec_check(uint32_t op, uint32_t param, char *msg, size_t size)
{
	const char *sn;

	if (op == OP_RSA) {
		if (param >= KEYGEN_RSA_MIN_BITS && param <= KEYGEN_RSA_MAX_BITS)
			return true;
		snprintf(msg, size, "RSA key size %u not supported (%d..%d bits)", param, KEYGEN_RSA_MIN_BITS,
		    KEYGEN_RSA_MAX_BITS);
		return false;
	}
	if (op == OP_EC) {
		if (param <= (uint32_t)INT32_MAX && curve_ok((int)param))
			return true;
		sn = param <= (uint32_t)INT32_MAX ? OBJ_nid2sn((int)param) : NULL;
		if (sn != NULL)
			snprintf(msg, size, "EC curve %s not supported (P-256, P-384 and P-521 are)", sn);
		else
			snprintf(msg, size, "EC curve %u not supported (P-256, P-384 and P-521 are)", param);
		return false;
	}
	if (op == OP_DSA) {
		if (param == 1024 || param == 2048 || param == 3072)
			return true;
		snprintf(msg, size, "DSA key size %u not supported (1024, 2048 or 3072 bits)", param);
		return false;
	}
	snprintf(msg, size, "key generation algorithm %u not supported", op);
	return false;
}

/* Describes a spec for logs, e.g. "RSA-2048" or "EC secp384r1". */
static const char *
spec_name(const struct keygen_spec *spec, char *buf, size_t size)
{
	const char *sn;

	if (spec->alg == KEYGEN_PBKDF2)
		snprintf(buf, size, "password derivation");
	else if (spec->alg == KEYGEN_DERIVE)
		snprintf(buf, size, "PBKDF2 key derivation");
	else if (spec->alg == KEYGEN_DSA)
		snprintf(buf, size, "DSA-%u", spec->bits);
	else if (spec->alg == KEYGEN_RSA_RECOVER)
		snprintf(buf, size, "RSA prime recovery");
	else if (spec->alg == KEYGEN_RSA)
		snprintf(buf, size, "RSA-%u", spec->bits);
	else if (spec->alg == KEYGEN_EC && (sn = OBJ_nid2sn(spec->curve_nid)) != NULL)
		snprintf(buf, size, "EC %s", sn);
	else
		snprintf(buf, size, "alg %d", (int)spec->alg);
	return buf;
}

/* Converts milliseconds to a timeval. */
static void
ms_to_tv(unsigned ms, struct timeval *tv)
{
	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
}

/* Wipes the private key and frees the result. */
void
keygen_result_free(struct keygen_result *res)
{
	if (res == NULL)
		return;
	if (res->private_der != NULL) {
		OPENSSL_cleanse(res->private_der, res->private_len);
		free(res->private_der);
	}
	free(res->public_der);
	OPENSSL_cleanse(res, sizeof(*res));
	free(res);
}

/* The job no longer counts for its owner (delivered, cancelled or freed); an owner left with none goes. */
static void
job_disown(struct keygen_job *job)
{
	struct kg_owner *o = job->owner;

	if (o == NULL)
		return;
	job->owner = NULL;
	o->jobs--;
	if (job->capped)
		o->capped--;
	job->capped = false;
	if (o->jobs > 0)
		return;
	if (o->in_turn)
		TAILQ_REMOVE(&job->kg->turns, o, turn);
	TAILQ_REMOVE(&job->kg->owners, o, entry);
	free(o);
}

/* Frees a job that is on no list (its result and its inputs, if any, are wiped). */
static void
job_free(struct keygen_job *job)
{
	job_disown(job);
	keygen_result_free(job->res);
	if (job->payload != NULL) {
		OPENSSL_cleanse(job->payload, job->payload_len);
		free(job->payload);
	}
	free(job);
}

/* Returns the owner named name, or NULL when it has no jobs outstanding. */
static struct kg_owner *
owner_find(struct keygen *kg, const char *name)
{
	struct kg_owner *o;

	TAILQ_FOREACH(o, &kg->owners, entry)
		if (strcmp(o->name, name) == 0)
			return o;
	return NULL;
}

/* Returns the owner named name, made when it has no jobs yet; NULL when out of memory. */
static struct kg_owner *
owner_get(struct keygen *kg, const char *name)
{
	struct kg_owner *o = owner_find(kg, name);
	size_t len = strlen(name);

	if (o != NULL)
		return o;
	if ((o = calloc(1, sizeof(*o) + len + 1)) == NULL)
		return NULL;
	memcpy(o->name, name, len + 1);
	TAILQ_INIT(&o->queue);
	TAILQ_INSERT_TAIL(&kg->owners, o, entry);
	return o;
}

/* Queues a caller's job (which has an owner): at the back, or at the front of everything when head. */
static void
queue_add(struct keygen *kg, struct keygen_job *job, bool head)
{
	struct kg_owner *o = job->owner;

	job->state = JOB_QUEUED;
	if (head) {
		TAILQ_INSERT_HEAD(&kg->queue, job, entry);
		TAILQ_INSERT_HEAD(&o->queue, job, oentry);
	} else {
		TAILQ_INSERT_TAIL(&kg->queue, job, entry);
		TAILQ_INSERT_TAIL(&o->queue, job, oentry);
	}
	kg->nqueued++;
	if (o->in_turn && head) {
		TAILQ_REMOVE(&kg->turns, o, turn);
		o->in_turn = false;
	}
	if (!o->in_turn) {
		if (head)
			TAILQ_INSERT_HEAD(&kg->turns, o, turn);
		else
			TAILQ_INSERT_TAIL(&kg->turns, o, turn);
		o->in_turn = true;
	}
}

/* Takes a job off the queue; its owner leaves the turns when it has nothing else queued. */
static void
queue_remove(struct keygen *kg, struct keygen_job *job)
{
	struct kg_owner *o = job->owner;

	TAILQ_REMOVE(&kg->queue, job, entry);
	TAILQ_REMOVE(&o->queue, job, oentry);
	kg->nqueued--;
	if (TAILQ_EMPTY(&o->queue) && o->in_turn) {
		TAILQ_REMOVE(&kg->turns, o, turn);
		o->in_turn = false;
	}
}

/* Jobs of owner o running on workers now. */
static unsigned
owner_running(const struct keygen *kg, const struct kg_owner *o)
{
	unsigned i, n = 0;

	for (i = 0; i < kg->nworkers; i++)
		if (kg->workers[i].job != NULL && kg->workers[i].job->owner == o)
			n++;
	return n;
}

/*
 * Takes the next job in fair order: the first job of the owner with the fewest jobs running and, among
 * equals, the one served longest ago (round-robin). An owner whose job runs or just ran thus waits for the
 * others, so a job waits for at most the jobs already running. Scans the owners with jobs queued, and the
 * workers for each.
 */
static struct keygen_job *
queue_next(struct keygen *kg)
{
	struct kg_owner *o = NULL, *c;
	struct keygen_job *job;
	unsigned best = UINT32_MAX, r;

	TAILQ_FOREACH(c, &kg->turns, turn) {
		r = owner_running(kg, c);
		if (r < best || (r == best && c->served < o->served)) {
			best = r;
			o = c;
		}
	}
	if (o == NULL)
		return NULL;
	o->served = ++kg->serve_seq;
	job = TAILQ_FIRST(&o->queue);
	queue_remove(kg, job);
	if (o->in_turn) {
		TAILQ_REMOVE(&kg->turns, o, turn);
		TAILQ_INSERT_TAIL(&kg->turns, o, turn);
	}
	return job;
}

/* Hands a job's result to the delivery event; the callback runs from the loop. */
static void
job_finish(struct keygen_job *job)
{
	struct keygen *kg = job->kg;

	if (job->res->status != 0)
		kg->st.failures++;
	job->state = JOB_DONE;
	job->worker = NULL;
	TAILQ_INSERT_TAIL(&kg->done, job, entry);
	kg->ndone++;
	event_active(kg->deliver_ev, EV_TIMEOUT, 0);
}

/* Answers a job (on no list) with an error. */
static void
job_fail(struct keygen_job *job, const char *fmt, ...) LOG_PRINTF(2, 3);
static void
job_fail(struct keygen_job *job, const char *fmt, ...)
{
	struct keygen_result *res = job->res;
	va_list ap;

	res->status = -1;
	va_start(ap, fmt);
	vsnprintf(res->message, sizeof(res->message), fmt, ap);
	va_end(ap);
	job_finish(job);
}

/* Answers a job (on no list) with a key pair from the pool. */
static void
job_from_pool(struct keygen_job *job)
{
	struct keygen *kg = job->kg;

	keygen_result_free(job->res);
	job->res = kg->pool[--kg->pool_ready];
	kg->pool[kg->pool_ready] = NULL;
	job_finish(job);
}

/* Runs the callbacks of the jobs done so far; those finished meanwhile wait for the next round. */
static void
deliver_cb(evutil_socket_t fd, short what, void *arg)
{
	struct keygen *kg = arg;
	struct keygen_job *job;
	struct keygen_result *res;
	unsigned n = kg->ndone;
	keygen_cb cb;
	void *cbarg;

	(void)fd;
	(void)what;
	/* Popped one at a time: a callback may cancel a job further down the list. */
	while (n-- > 0 && (job = TAILQ_FIRST(&kg->done)) != NULL) {
		TAILQ_REMOVE(&kg->done, job, entry);
		kg->ndone--;
		res = job->res;
		cb = job->cb;
		cbarg = job->arg;
		job->res = NULL;
		job_free(job);
		cb(res, cbarg);
	}
	if (kg->ndone > 0)
		event_active(kg->deliver_ev, EV_TIMEOUT, 0);
}

/* Counts RSA-2048 background jobs that will deliver a key to the pool. */
static unsigned
pool_pending(const struct keygen *kg)
{
	unsigned i, n = 0;

	for (i = 0; i < kg->nworkers; i++) {
		const struct keygen_job *job = kg->workers[i].job;

		if (job != NULL && job->background && !job->aborting && is_rsa2048(&job->spec))
			n++;
	}
	return n;
}

/*
 * Sends a request with its payload (NULL for none); returns 0, or -1 when the worker cannot take it (it is
 * then treated as dead).
 */
static int
worker_send(struct worker *w, uint32_t id, uint32_t op, uint32_t param, const uint8_t *payload, size_t len)
{
	struct kg_req req = { id, op, param, (uint32_t)len };
	struct iovec iov[2] = { { &req, sizeof(req) }, { (void *)payload, len } };
	struct msghdr mh;
	ssize_t n;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = len > 0 ? 2 : 1;
	do
		n = sendmsg(w->fd, &mh, MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	/* The socket holds at most a request (PAYLOAD_MAX) and an abort, so a short write means a broken worker. */
	return n == (ssize_t)(sizeof(req) + len) ? 0 : -1;
}

/* True for the jobs a worker can give up half way (key generation polls its socket; the others do not). */
static bool
abortable(const struct keygen_job *job)
{
	return job->op == OP_RSA || job->op == OP_EC || job->op == OP_DSA;
}

/* Remembers a dead or dying worker's pid until waitpid() collects it. */
static void
zombie_add(struct keygen *kg, pid_t pid, unsigned idx, bool expected)
{
	struct timeval tv;
	struct zombie *z;
	int status;

	if (kg->nzombies == kg->zombie_cap) {
		unsigned cap = kg->zombie_cap ? kg->zombie_cap * 2 : 4;

		z = reallocarray(kg->zombies, cap, sizeof(*z));
		if (z == NULL) {
			/* Cannot wait for it in the background: make it quick, then wait here. */
			(void)kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
				;
			return;
		}
		kg->zombies = z;
		kg->zombie_cap = cap;
	}
	z = &kg->zombies[kg->nzombies++];
	z->pid = pid;
	z->idx = idx;
	z->tries = 0;
	z->expected = expected;
	if (!evtimer_pending(kg->reap_ev, NULL)) {
		ms_to_tv(0, &tv);
		evtimer_add(kg->reap_ev, &tv);
	}
}

/* Logs how a reaped worker ended: a warning unless we killed it ourselves. */
static void
zombie_log(const struct zombie *z, int status)
{
	char how[96];

	if (WIFEXITED(status))
		snprintf(how, sizeof(how), "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(how, sizeof(how), "was killed by signal %d (%s)", WTERMSIG(status),
		    strsignal(WTERMSIG(status)));
	else
		snprintf(how, sizeof(how), "ended with wait status 0x%x", (unsigned)status);
	if (z->expected)
		log_debug("keygen: worker %u (pid %d) %s", z->idx, (int)z->pid, how);
	else
		log_warnx("keygen: worker %u (pid %d) %s", z->idx, (int)z->pid, how);
}

/* Collects the workers that have exited; comes back until all are reaped. */
static void
reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct keygen *kg = arg;
	struct timeval tv;
	unsigned i = 0;
	int status;
	pid_t r;

	(void)fd;
	(void)what;
	while (i < kg->nzombies) {
		struct zombie *z = &kg->zombies[i];

		r = waitpid(z->pid, &status, WNOHANG);
		if (r == 0) {
			if (++z->tries == REAP_KILL_TRIES) {
				log_warnx("keygen: worker %u (pid %d) closed its socket but lives on; killing it",
				    z->idx, (int)z->pid);
				(void)kill(z->pid, SIGKILL);
			}
			i++;
			continue;
		}
		if (r == z->pid)
			zombie_log(z, status);
		else if (r == -1 && errno == EINTR) {
			i++;
			continue;
		} else
			log_debug("keygen: worker pid %d already reaped elsewhere", (int)z->pid);
		kg->zombies[i] = kg->zombies[--kg->nzombies];
	}
	if (kg->nzombies > 0) {
		ms_to_tv(REAP_INTERVAL_MS, &tv);
		evtimer_add(kg->reap_ev, &tv);
	}
}

/* Returns the delay before the next start of a worker that failed `fails` times in a row. */
static unsigned
restart_delay_ms(unsigned fails)
{
	unsigned shift;

	if (fails < 2)
		return 0;
	shift = fails - 2 > 9 ? 9 : fails - 2;
	return RESTART_BASE_MS << shift > RESTART_MAX_MS ? RESTART_MAX_MS : RESTART_BASE_MS << shift;
}

/* True when no worker runs and every one of them keeps failing to start: waiting would be hanging. */
static bool
kg_unavailable(const struct keygen *kg)
{
	unsigned i;

	for (i = 0; i < kg->nworkers; i++)
		if (kg->workers[i].state != WORKER_DOWN || kg->workers[i].fails < GIVE_UP_FAILS)
			return false;
	return true;
}

/* Answers every queued job with an error when no worker can take them. */
static void
kg_fail_queue_if_unavailable(struct keygen *kg)
{
	struct keygen_job *job;

	if (!kg_unavailable(kg) || TAILQ_EMPTY(&kg->queue))
		return;
	log_warnx("keygen: no worker is running and restarts keep failing; failing %u queued jobs",
	    kg->nqueued);
	while ((job = TAILQ_FIRST(&kg->queue)) != NULL) {
		queue_remove(kg, job);
		job_fail(job, "no key generation worker is running (restarts keep failing)");
	}
}

/*
 * The worker is gone (or being killed): close our end, queue its pid for reaping, requeue its job at the
 * front once (a job that already lost a worker fails instead) and arm the restart. expected: we killed it
 * over a timeout, which says nothing about its health. The caller runs kg_schedule() afterwards.
 */
static void
worker_lost(struct worker *w, bool expected)
{
	struct keygen *kg = w->kg;
	struct keygen_job *job = w->job;
	struct timeval tv;
	unsigned delay;
	char name[48];

	if (w->state == WORKER_DOWN)
		return;
	event_free(w->ev);
	w->ev = NULL;
	close(w->fd);
	w->fd = -1;
	evtimer_del(w->deadline);
	OPENSSL_cleanse(w->rbuf, w->rlen);
	w->rlen = 0;
	zombie_add(kg, w->pid, w->idx, expected);
	w->pid = 0;
	w->state = WORKER_DOWN;
	w->job = NULL;
	if (job != NULL) {
		job->worker = NULL;
		if (job->background) {
			job_free(job);
		} else if (++job->deaths >= 2) {
			log_warnx("keygen: %s job lost its second worker; failing it",
			    spec_name(&job->spec, name, sizeof(name)));
			job_fail(job, "key generation worker died");
		} else {
			queue_add(kg, job, true);
		}
	}
	if (!expected && !w->answered && clock_ms() - ((int64_t)w->started.tv_sec * 1000 +
	    w->started.tv_nsec / 1000000) < QUICK_DEATH_MS)
		w->fails++;
	else if (!expected)
		w->fails = 0;
	delay = restart_delay_ms(w->fails);
	if (delay > 0)
		log_warnx("keygen: worker %u died %u times in a row soon after starting; restarting it in %u ms",
		    w->idx, w->fails, delay);
	ms_to_tv(delay, &tv);
	evtimer_add(w->restart, &tv);
	kg_fail_queue_if_unavailable(kg);
}

/* Kills a misbehaving worker at once and treats it as dead. */
static void
worker_kill(struct worker *w, const char *why)
{
	log_warnx("keygen: worker %u (pid %d) %s; killing it", w->idx, (int)w->pid, why);
	(void)kill(w->pid, SIGKILL);
	worker_lost(w, false);
}

/* Gives a job (on no list) to an idle worker. */
static void
worker_run(struct worker *w, struct keygen_job *job)
{
	struct keygen *kg = w->kg;

	if (++kg->next_id == 0)
		kg->next_id = 1;
	job->id = kg->next_id;
	job->state = JOB_RUNNING;
	job->worker = w;
	job->aborting = false;
	w->job = job;
	w->state = WORKER_BUSY;
	evtimer_add(w->deadline, kg->tv_timeout);
	if (worker_send(w, job->id, job->op, job->param, job->payload, job->payload_len) != 0)
		worker_kill(w, "does not take requests");
}

/* Asks the worker to give up its background job. */
static void
worker_abort(struct worker *w)
{
	w->job->aborting = true;
	if (worker_send(w, w->job->id, OP_ABORT, 0, NULL, 0) != 0)
		worker_kill(w, "does not take requests");
}

/* Starts a pool refill on an idle worker. */
static void
worker_refill(struct worker *w)
{
	struct keygen_job *job = calloc(1, sizeof(*job));

	if (job == NULL || (job->res = calloc(1, sizeof(*job->res))) == NULL) {
		free(job);
		return;
	}
	job->kg = w->kg;
	job->background = true;
	job->spec.alg = KEYGEN_RSA;
	job->spec.bits = 2048;
	job->op = OP_RSA;
	job->param = 2048;
	worker_run(w, job);
}

/* A queued RSA-2048 job takes over a running refill: its key goes to the caller instead of the pool. */
static void
job_adopt(struct keygen_job *job, struct worker *w)
{
	struct keygen *kg = job->kg;
	struct keygen_job *bg = w->job;

	queue_remove(kg, job);
	job->id = bg->id;
	job->state = JOB_RUNNING;
	job->worker = w;
	w->job = job;
	job_free(bg);
}

/* Returns a busy worker whose background job is not yet aborting, preferring RSA-2048 when rsa2048. */
static struct worker *
find_background(struct keygen *kg, bool rsa2048)
{
	unsigned i;

	for (i = 0; i < kg->nworkers; i++) {
		struct worker *w = &kg->workers[i];

		if (w->state == WORKER_BUSY && w->job->background && !w->job->aborting && abortable(w->job) &&
		    (!rsa2048 || is_rsa2048(&w->job->spec)))
			return &kg->workers[i];
	}
	return NULL;
}

/*
 * Matches work and workers: queued RSA-2048 jobs take pooled keys, idle workers take queued jobs in
 * fair order (queue_next), jobs still waiting adopt or abort background work, and workers left idle refill the pool.
 */
static void
kg_schedule(struct keygen *kg)
{
	struct keygen_job *job, *next;
	struct worker *w;
	unsigned i, waiting = 0, aborting = 0;

	for (job = TAILQ_FIRST(&kg->queue); job != NULL && kg->pool_ready > 0; job = next) {
		next = TAILQ_NEXT(job, entry);
		if (is_rsa2048(&job->spec)) {
			queue_remove(kg, job);
			job_from_pool(job);
		}
	}
	for (i = 0; i < kg->nworkers && !TAILQ_EMPTY(&kg->queue); i++) {
		w = &kg->workers[i];
		if (w->state != WORKER_IDLE)
			continue;
		worker_run(w, queue_next(kg));
	}
	for (job = TAILQ_FIRST(&kg->queue); job != NULL; job = next) {
		next = TAILQ_NEXT(job, entry);
		if (is_rsa2048(&job->spec) && (w = find_background(kg, true)) != NULL)
			job_adopt(job, w);
		else
			waiting++;
	}
	for (i = 0; i < kg->nworkers; i++) {
		w = &kg->workers[i];
		if (w->state == WORKER_BUSY && w->job->background && w->job->aborting)
			aborting++;
	}
	while (aborting < waiting && (w = find_background(kg, false)) != NULL) {
		worker_abort(w);
		aborting++;
	}
	if (!TAILQ_EMPTY(&kg->queue) || kg->refill_paused)
		return;
	for (i = 0; i < kg->nworkers; i++) {
		w = &kg->workers[i];
		if (w->state == WORKER_IDLE && kg->pool_ready + pool_pending(kg) < kg->pool_size)
			worker_refill(w);
	}
}

/* The pause after failed refills is over: try again. */
static void
refill_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct keygen *kg = arg;

	(void)fd;
	(void)what;
	kg->refill_paused = false;
	kg_schedule(kg);
}

/* Copies len bytes into a new buffer; NULL when out of memory. */
static uint8_t *
dup_bytes(const uint8_t *p, size_t len)
{
	uint8_t *q = malloc(len);

	if (q != NULL)
		memcpy(q, p, len);
	return q;
}

/* Fills res from a successful response. Returns 0, or -1 when out of memory (res left empty). */
static int
result_fill(struct keygen_result *res, const struct kg_resp *h, const uint8_t *priv, const uint8_t *pub)
{
	res->private_der = dup_bytes(priv, h->private_len);
	res->public_der = h->public_len > 0 ? dup_bytes(pub, h->public_len) : NULL;
	if (res->private_der == NULL || (h->public_len > 0 && res->public_der == NULL)) {
		if (res->private_der != NULL)
			OPENSSL_cleanse(res->private_der, h->private_len);
		free(res->private_der);
		free(res->public_der);
		res->private_der = res->public_der = NULL;
		return -1;
	}
	res->private_len = h->private_len;
	res->public_len = h->public_len;
	res->status = 0;
	return 0;
}

/* A pool refill failed: back off before the next one so a broken setup does not spin. */
static void
refill_failed(struct keygen *kg, const char *msg)
{
	unsigned ms;
	struct timeval tv;

	kg->refill_fails++;
	ms = 1000u << (kg->refill_fails > 6 ? 6 : kg->refill_fails - 1);
	if (ms > REFILL_PAUSE_MAX_MS)
		ms = REFILL_PAUSE_MAX_MS;
	log_warnx("keygen: pool refill failed: %s; next attempt in %u ms", msg, ms);
	kg->refill_paused = true;
	ms_to_tv(ms, &tv);
	evtimer_add(kg->refill_ev, &tv);
}

/*
 * True when an RSA private key's components agree: n = p q, e d = 1 mod (p-1) and mod (q-1), dP and dQ are d
 * reduced, qInv q = 1 mod p. A handful of multiplications: OpenSSL's pairwise check also tests the primes,
 * 230 ms of the loop for RSA-4096.
 */
static bool
rsa_consistent(const EVP_PKEY *k)
{
	BIGNUM *n = NULL, *e = NULL, *d = NULL, *p = NULL, *q = NULL, *dp = NULL, *dq = NULL, *qi = NULL;
	BIGNUM *t, *p1, *q1;
	BN_CTX *ctx = BN_CTX_secure_new();
	bool ok = false;

	if (ctx == NULL)
		return false;
	BN_CTX_start(ctx);
	t = BN_CTX_get(ctx);
	p1 = BN_CTX_get(ctx);
	q1 = BN_CTX_get(ctx);
	if (q1 == NULL || !EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n) ||
	    !EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &e) ||
	    !EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_D, &d) ||
	    !EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_FACTOR1, &p) ||
	    !EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_FACTOR2, &q) ||
	    !EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_EXPONENT1, &dp) ||
	    !EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_EXPONENT2, &dq) ||
	    !EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, &qi))
		goto out;
	ok = BN_cmp(p, BN_value_one()) > 0 && BN_cmp(q, BN_value_one()) > 0 && BN_mul(t, p, q, ctx) &&
	    BN_cmp(t, n) == 0 && BN_sub(p1, p, BN_value_one()) && BN_sub(q1, q, BN_value_one()) &&
	    BN_mod_mul(t, e, d, p1, ctx) && BN_is_one(t) && BN_mod_mul(t, e, d, q1, ctx) && BN_is_one(t) &&
	    BN_nnmod(t, d, p1, ctx) && BN_cmp(t, dp) == 0 && BN_nnmod(t, d, q1, ctx) && BN_cmp(t, dq) == 0 &&
	    BN_mod_mul(t, qi, q, p, ctx) && BN_is_one(t);
out:
	BN_free(n);
	BN_free(e);
	BN_clear_free(d);
	BN_clear_free(p);
	BN_clear_free(q);
	BN_clear_free(dp);
	BN_clear_free(dq);
	BN_clear_free(qi);
	BN_CTX_end(ctx);
	BN_CTX_free(ctx);
	return ok;
}

/*
 * Checks a key pair a worker made against what was asked: the PKCS#8 and the SubjectPublicKeyInfo each parse as
 * one whole DER structure (lengths already bounded by DER_MAX), the algorithm and the RSA size or EC curve are
 * the spec's, the public key is the private key's, and the private key is consistent (for RSA, n = p q and the
 * exponents agree; for EC, the point is the scalar's: 0.3 ms for P-521; for DSA, y = g^x: about 1 ms for a
 * 3072-bit p). No primality test: that would cost the loop hundreds of milliseconds per key. Returns NULL when
 * fine, else what is wrong (for the log).
 */
static const char *
pair_check(const struct keygen_spec *spec, const uint8_t *priv, size_t priv_len, const uint8_t *pub,
    size_t pub_len)
{
	const unsigned char *p = priv, *q = pub;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	EVP_PKEY *k = NULL, *pk = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	const char *bad = NULL;
	char group[64];
	size_t glen = 0;

	ERR_set_mark();
	if ((p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)priv_len)) == NULL || p != priv + priv_len ||
	    (k = EVP_PKCS82PKEY(p8)) == NULL)
		bad = "sent a private key that is not a PKCS#8 PrivateKeyInfo";
	else if ((pk = d2i_PUBKEY(NULL, &q, (long)pub_len)) == NULL || q != pub + pub_len)
		bad = "sent a public key that is not a SubjectPublicKeyInfo";
	else if (spec->alg == KEYGEN_RSA && (!EVP_PKEY_is_a(k, "RSA") || !EVP_PKEY_is_a(pk, "RSA") ||
	    EVP_PKEY_get_bits(k) != (int)spec->bits))
		bad = "sent a key that is not of the RSA size asked";
	else if (spec->alg == KEYGEN_EC && (!EVP_PKEY_is_a(k, "EC") || !EVP_PKEY_is_a(pk, "EC") ||
	    !EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &glen) ||
	    OBJ_txt2nid(group) != spec->curve_nid))
		bad = "sent a key that is not on the EC curve asked";
	else if (spec->alg == KEYGEN_DSA && (!EVP_PKEY_is_a(k, "DSA") || !EVP_PKEY_is_a(pk, "DSA") ||
	    EVP_PKEY_get_bits(k) != (int)spec->bits))
		bad = "sent a key that is not of the DSA size asked";
	else if (spec->alg != KEYGEN_RSA && spec->alg != KEYGEN_EC && spec->alg != KEYGEN_DSA)
		bad = "sent a key pair for a job of another kind";
	else if (EVP_PKEY_eq(k, pk) != 1)
		bad = "sent a public key that is not the private key's";
	else if (spec->alg == KEYGEN_RSA ? !rsa_consistent(k) :
	    (ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL)) == NULL || EVP_PKEY_pairwise_check(ctx) != 1)
		bad = "sent an inconsistent private key";
	ERR_pop_to_mark();
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pk);
	EVP_PKEY_free(k);
	PKCS8_PRIV_KEY_INFO_free(p8);
	return bad;
}

/* A complete, validated response is in w->rbuf: answer the job and free the worker. */
static void
worker_response(struct worker *w)
{
	struct keygen *kg = w->kg;
	struct keygen_job *job = w->job;
	struct kg_resp h;
	const uint8_t *msgp, *priv, *pub;
	const char *bad;
	char msg[MSG_MAX + 1], name[48];
	size_t i;

	memcpy(&h, w->rbuf, sizeof(h));
	msgp = w->rbuf + sizeof(h);
	priv = msgp + h.message_len;
	pub = priv + h.private_len;
	for (i = 0; i < h.message_len; i++)
		msg[i] = msgp[i] >= 0x20 && msgp[i] < 0x7f ? (char)msgp[i] : '?';
	msg[i] = '\0';

	evtimer_del(w->deadline);
	if (h.status == ST_OK && abortable(job) &&
	    (bad = pair_check(&job->spec, priv, h.private_len, pub, h.public_len)) != NULL) {
		/* Never handed on, not even to the pool: the worker is broken, so it goes too. */
		kg->st.bad_answers++;
		w->job = NULL;
		job->worker = NULL;
		if (job->background)
			job_free(job);
		else
			job_fail(job, "%s failed: the worker's key did not pass the checks",
			    spec_name(&job->spec, name, sizeof(name)));
		worker_kill(w, bad);
		return;
	}
	w->job = NULL;
	w->state = WORKER_IDLE;
	w->answered = true;
	w->fails = 0;
	job->worker = NULL;
	if (h.status == ST_OK && abortable(job))
		kg->st.generated++;

	if (job->background) {
		if (h.status == ST_OK) {
			kg->refill_fails = 0;
			if (is_rsa2048(&job->spec) && kg->pool_ready < kg->pool_size &&
			    result_fill(job->res, &h, priv, pub) == 0) {
				kg->pool[kg->pool_ready++] = job->res;
				job->res = NULL;
			}
		} else if (h.status == ST_FAILED && !job->aborting && abortable(job)) {
			refill_failed(kg, msg);
		}
		job_free(job);
		return;
	}
	if (h.status != ST_OK) {
		/* A recovery fails for any forged key a client sends: not worth a warning. */
		if (abortable(job))
			log_warnx("keygen: %s failed: %s", spec_name(&job->spec, name, sizeof(name)), msg);
		else
			log_debug("keygen: %s failed: %s", spec_name(&job->spec, name, sizeof(name)), msg);
		job_fail(job, "%s", msg[0] != '\0' ? msg : "key generation failed");
	} else if (result_fill(job->res, &h, priv, pub) != 0) {
		job_fail(job, "out of memory");
	} else {
		job_finish(job);
	}
}

/* Checks a response header against what the worker was asked. Returns NULL if fine, else why not. */
static const char *
resp_check(const struct worker *w, const struct kg_resp *h)
{
	if (w->state != WORKER_BUSY || w->job == NULL)
		return "sent an unsolicited response";
	if (h->id != w->job->id)
		return "answered another job";
	if (h->message_len > MSG_MAX)
		return "sent an oversized message";
	switch (h->status) {
	case ST_OK:
		switch (w->job->op) {
		case OP_PBKDF2:
			if (h->private_len != KEYGEN_PBKDF2_LEN || h->public_len != 0)
				return "sent a derived key of a bad length";
			return NULL;
		case OP_DERIVE:
			if (h->private_len != w->job->spec.out_len || h->public_len != 0)
				return "sent a derived key of a bad length";
			return NULL;
		case OP_RECOVER:
			if (h->private_len == 0 || h->private_len > KEYGEN_RECOVER_MAX_BITS / 8 ||
			    h->public_len == 0 || h->public_len > KEYGEN_RECOVER_MAX_BITS / 8)
				return "sent primes of a bad length";
			return NULL;
		default:
			if (h->private_len == 0 || h->private_len > DER_MAX || h->public_len == 0 ||
			    h->public_len > DER_MAX)
				return "sent a key of a bad length";
			return NULL;
		}
	case ST_ABORTED:
		if (!w->job->aborting)
			return "aborted a job it was not asked to abort";
		/* FALLTHROUGH */
	case ST_FAILED:
		if (h->private_len != 0 || h->public_len != 0)
			return "sent a key with an error";
		return NULL;
	default:
		return "sent a bad status";
	}
}

/* The worker's socket is readable: collect the response, or notice the worker died. */
static void
worker_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct keygen *kg = w->kg;
	const char *bad, *why;
	struct kg_resp h;
	size_t want;
	ssize_t n;
	char name[48];

	(void)what;
	for (;;) {
		want = w->rlen < sizeof(h) ? sizeof(h) : w->need;
		n = read(fd, w->rbuf + w->rlen, want - w->rlen);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			/* ECONNRESET too: it died with a request unread. */
			why = n == 0 ? "closed its socket" : strerror(errno);
			if (w->job != NULL && !w->job->background)
				log_warnx("keygen: worker %u (pid %d) died (%s) while generating %s; restarting it",
				    w->idx, (int)w->pid, why, spec_name(&w->job->spec, name, sizeof(name)));
			else
				log_warnx("keygen: worker %u (pid %d) died (%s); restarting it", w->idx,
				    (int)w->pid, why);
			worker_lost(w, false);
			kg_schedule(kg);
			return;
		}
		w->rlen += (size_t)n;
		if (w->rlen == sizeof(h)) {
			memcpy(&h, w->rbuf, sizeof(h));
			if ((bad = resp_check(w, &h)) != NULL) {
				worker_kill(w, bad);
				kg_schedule(kg);
				return;
			}
			w->need = sizeof(h) + h.message_len + h.private_len + h.public_len;
		}
		if (w->rlen >= sizeof(h) && w->rlen == w->need) {
			worker_response(w);
			OPENSSL_cleanse(w->rbuf, w->rlen);
			w->rlen = 0;
			kg_schedule(kg);
			return;
		}
	}
}

/* A job overran its deadline: kill the worker, answer the job, start another worker. */
static void
worker_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct keygen *kg = w->kg;
	struct keygen_job *job = w->job;
	char name[48];

	(void)fd;
	(void)what;
	if (job == NULL)
		return;
	log_warnx("keygen: worker %u (pid %d) still generating %s after %u s; killing it", w->idx, (int)w->pid,
	    spec_name(&job->spec, name, sizeof(name)), kg->timeout_sec);
	(void)kill(w->pid, SIGKILL);
	w->job = NULL;
	job->worker = NULL;
	if (job->background)
		job_free(job);
	else
		job_fail(job, "key generation timed out after %u s", kg->timeout_sec);
	worker_lost(w, true);
	kg_schedule(kg);
}

/* Starts the worker again after a death (after a back-off when starts keep failing). */
static void
worker_restart_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct keygen *kg = w->kg;
	struct timeval tv;
	unsigned delay;

	(void)fd;
	(void)what;
	if (worker_spawn(w) != 0) {
		w->fails++;
		delay = restart_delay_ms(w->fails);
		if (delay == 0)
			delay = RESTART_BASE_MS;
		log_warn("keygen: cannot restart worker %u (retrying in %u ms)", w->idx, delay);
		ms_to_tv(delay, &tv);
		evtimer_add(w->restart, &tv);
		kg_fail_queue_if_unavailable(kg);
		return;
	}
	kg->st.worker_restarts++;
	log_info("keygen: worker %u restarted (pid %d)", w->idx, (int)w->pid);
	kg_schedule(kg);
}

/* ---- worker process side ---- */

struct gen_state {
	int fd;
	bool aborted;
};

/* Reads exactly len bytes. Returns 1, 0 at a clean end of file, or -1. */
static int
read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = read(fd, p + got, len - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 && got == 0 ? 0 : -1;
		got += (size_t)n;
	}
	return 1;
}

/* Writes all of buf. Returns 0 or -1. */
static int
write_full(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * OpenSSL's key-generation progress callback, called every few milliseconds during RSA generation: gives
 * up (returns 0) when anything arrives on the socket, which during a job can only be an ABORT from the
 * parent or its end of file.
 */
static int
gen_progress_cb(EVP_PKEY_CTX *ctx)
{
	struct gen_state *gs = EVP_PKEY_CTX_get_app_data(ctx);
	struct pollfd pfd;

	if (gs == NULL)
		return 1;
	pfd.fd = gs->fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	if (poll(&pfd, 1, 0) > 0) {
		gs->aborted = true;
		return 0;
	}
	return 1;
}

/* Formats the reason of the last OpenSSL error into msg. */
static void
ossl_reason(char *msg, size_t size, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;

	snprintf(msg, size, "%s: %s", what, r != NULL ? r : "OpenSSL error");
	ERR_clear_error();
}

/*
 * Writes one response: status, message, and on success the two results (a and b, b may be empty). Returns 0,
 * or -1 when the parent cannot be written to.
 */
static int
worker_reply(int fd, uint32_t id, int32_t status, const char *msg, const uint8_t *a, size_t alen,
    const uint8_t *b, size_t blen)
{
	struct kg_resp h;
	size_t msg_len = strnlen(msg, MSG_MAX), total;
	uint8_t *out;
	int rc;

	if (status != ST_OK)
		alen = blen = 0;
	memset(&h, 0, sizeof(h));
	h.id = id;
	h.status = status;
	h.message_len = (uint32_t)msg_len;
	h.private_len = (uint32_t)alen;
	h.public_len = (uint32_t)blen;
	total = sizeof(h) + msg_len + alen + blen;
	if ((out = malloc(total)) == NULL)
		return -1;
	memcpy(out, &h, sizeof(h));
	memcpy(out + sizeof(h), msg, msg_len);
	if (alen > 0)
		memcpy(out + sizeof(h) + msg_len, a, alen);
	if (blen > 0)
		memcpy(out + sizeof(h) + msg_len + alen, b, blen);
	rc = write_full(fd, out, total);
	OPENSSL_cleanse(out, total);
	free(out);
	return rc;
}

/* Takes the next field (u32 length, bytes) of a request payload; -1 when it is cut short or over max. */
static int
take_field(const uint8_t **p, size_t *left, size_t max, const uint8_t **f, size_t *flen)
{
	uint32_t len;

	if (*left < sizeof(len))
		return -1;
	memcpy(&len, *p, sizeof(len));
	if (len > max || len > *left - sizeof(len))
		return -1;
	*f = *p + sizeof(len);
	*flen = len;
	*p += sizeof(len) + len;
	*left -= sizeof(len) + len;
	return 0;
}

/* Derives a Credential's password: PBKDF2-HMAC-SHA256. Returns 0, or -1 when the parent cannot be written to. */
static int
worker_pbkdf2(int fd, const struct kg_req *req, const uint8_t *payload, size_t len)
{
	const uint8_t *salt, *pass;
	size_t salt_len, pass_len;
	uint8_t out[KEYGEN_PBKDF2_LEN];
	int rc;

	if (take_field(&payload, &len, KEYGEN_PBKDF2_MAX_SALT, &salt, &salt_len) != 0 ||
	    take_field(&payload, &len, KEYGEN_PBKDF2_MAX_PASSWORD, &pass, &pass_len) != 0 || len != 0 ||
	    req->param < 1 || req->param > KEYGEN_PBKDF2_MAX_ITERATIONS)
		return worker_reply(fd, req->id, ST_FAILED, "bad password derivation request", NULL, 0, NULL, 0);
	if (PKCS5_PBKDF2_HMAC((const char *)pass, (int)pass_len, salt, (int)salt_len, (int)req->param,
	    EVP_sha256(), sizeof(out), out) != 1) {
		ERR_clear_error();
		return worker_reply(fd, req->id, ST_FAILED, "password derivation failed", NULL, 0, NULL, 0);
	}
	rc = worker_reply(fd, req->id, ST_OK, "", out, sizeof(out), NULL, 0);
	OPENSSL_cleanse(out, sizeof(out));
	return rc;
}

/*
 * Derive Key's PBKDF2 (NIST SP 800-132): PBKDF2-HMAC with the digest named in the payload, the salt and the
 * source key's bytes as the password, param iterations, the length asked. Returns 0, or -1 when the parent
 * cannot be written to.
 */
static int
worker_derive(int fd, const struct kg_req *req, const uint8_t *payload, size_t len)
{
	static uint8_t out[KEYGEN_DERIVE_MAX_LEN];
	const uint8_t *name, *lenf, *salt, *pass;
	size_t name_len, lenf_len, salt_len, pass_len;
	char digest[KEYGEN_DERIVE_MAX_DIGEST + 1];
	uint32_t out_len = 0;
	EVP_MD *md = NULL;
	int rc, ok;

	if (take_field(&payload, &len, KEYGEN_DERIVE_MAX_DIGEST, &name, &name_len) != 0 ||
	    take_field(&payload, &len, sizeof(out_len), &lenf, &lenf_len) != 0 || lenf_len != sizeof(out_len) ||
	    take_field(&payload, &len, KEYGEN_DERIVE_MAX_SALT, &salt, &salt_len) != 0 ||
	    take_field(&payload, &len, KEYGEN_DERIVE_MAX_PASSWORD, &pass, &pass_len) != 0 || len != 0 ||
	    req->param < 1 || req->param > KEYGEN_PBKDF2_MAX_ITERATIONS || name_len == 0)
		return worker_reply(fd, req->id, ST_FAILED, "bad key derivation request", NULL, 0, NULL, 0);
	memcpy(&out_len, lenf, sizeof(out_len));
	memcpy(digest, name, name_len);
	digest[name_len] = '\0';
	if (out_len < 1 || out_len > KEYGEN_DERIVE_MAX_LEN)
		return worker_reply(fd, req->id, ST_FAILED, "bad key derivation length", NULL, 0, NULL, 0);
	if ((md = EVP_MD_fetch(NULL, digest, NULL)) == NULL) {
		ERR_clear_error();
		return worker_reply(fd, req->id, ST_FAILED, "PBKDF2: digest not available", NULL, 0, NULL, 0);
	}
	ok = PKCS5_PBKDF2_HMAC((const char *)pass, (int)pass_len, salt, (int)salt_len, (int)req->param, md,
	    (int)out_len, out);
	EVP_MD_free(md);
	if (ok != 1) {
		ERR_clear_error();
		return worker_reply(fd, req->id, ST_FAILED, "PBKDF2 derivation failed", NULL, 0, NULL, 0);
	}
	rc = worker_reply(fd, req->id, ST_OK, "", out, out_len, NULL, 0);
	OPENSSL_cleanse(out, out_len);
	return rc;
}

/*
 * Recovers P and Q from n, e and d (NIST SP 800-56B appendix C): with e d - 1 = 2^t r, r odd, a base g gives
 * y = g^r, whose repeated squares reach 1; the square root of 1 met on the way that is not -1 shares a prime
 * with n. Each base succeeds with probability at least 1/2 for a real key. Up to RECOVER_TRIALS modular
 * exponentiations: the reason this runs here and not in the loop. Sets p > q; returns NULL, or why not.
 */
static const char *
recover_primes(BN_CTX *ctx, const BIGNUM *n, const BIGNUM *e, const BIGNUM *d, BIGNUM *p, BIGNUM *q)
{
	static const unsigned bases[RECOVER_TRIALS] = { 2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53 };
	const char *mismatch = "the RSA private exponent does not match the modulus and public exponent";
	BIGNUM *k, *g, *y, *x, *n1, *rem;
	unsigned i, j, t = 0;

	k = BN_CTX_get(ctx);
	g = BN_CTX_get(ctx);
	y = BN_CTX_get(ctx);
	x = BN_CTX_get(ctx);
	n1 = BN_CTX_get(ctx);
	rem = BN_CTX_get(ctx);
	if (rem == NULL)
		return "out of memory";
	if (BN_num_bits(n) > KEYGEN_RECOVER_MAX_BITS || !BN_is_odd(n) || BN_cmp(e, BN_value_one()) <= 0 ||
	    BN_is_zero(d))
		return "the RSA key cannot have its primes recovered";
	if (BN_cmp(d, n) >= 0)
		return "the RSA private exponent is not below the modulus";
	BN_set_flags(k, BN_FLG_CONSTTIME);
	if (!BN_mul(k, e, d, ctx) || !BN_sub_word(k, 1) || !BN_sub(n1, n, BN_value_one()))
		return "arithmetic failed";
	if (BN_is_zero(k) || BN_is_odd(k))
		return mismatch;
	while (!BN_is_odd(k)) {
		if (!BN_rshift1(k, k))
			return "arithmetic failed";
		t++;
	}
	for (i = 0; i < RECOVER_TRIALS; i++) {
		if (!BN_set_word(g, bases[i]) || !BN_mod_exp(y, g, k, n, ctx))
			return "arithmetic failed";
		if (BN_is_one(y) || BN_cmp(y, n1) == 0)
			continue;
		for (j = 0; j < t && j < RECOVER_MAX_SQUARINGS; j++) {
			if (!BN_mod_sqr(x, y, n, ctx))
				return "arithmetic failed";
			if (BN_is_one(x)) {
				if (!BN_sub_word(y, 1) || !BN_gcd(p, y, n, ctx) || !BN_div(q, rem, n, p, ctx))
					return "arithmetic failed";
				if (!BN_is_zero(rem) || BN_is_one(p) || BN_is_one(q))
					return mismatch;
				if (BN_cmp(p, q) < 0)
					BN_swap(p, q);
				return NULL;
			}
			if (BN_cmp(x, n1) == 0)
				break;
			if (!BN_copy(y, x))
				return "arithmetic failed";
		}
		/* For a real key, g^(e d - 1) is 1: never reaching 1 means the exponents are not a key's. */
		if (j == t || j == RECOVER_MAX_SQUARINGS)
			return mismatch;
	}
	return mismatch;
}

/* Recovers an RSA key's primes. Returns 0, or -1 when the parent cannot be written to. */
static int
worker_recover(int fd, const struct kg_req *req, const uint8_t *payload, size_t len)
{
	const uint8_t *nb, *eb, *db;
	size_t nl, el, dl;
	uint8_t pb[KEYGEN_RECOVER_MAX_BITS / 8], qb[KEYGEN_RECOVER_MAX_BITS / 8];
	BN_CTX *ctx = NULL;
	BIGNUM *n, *e, *d, *p, *q;
	const char *why = "out of memory";
	int pl = 0, ql = 0, rc;

	if (take_field(&payload, &len, KEYGEN_RECOVER_MAX_BITS / 8, &nb, &nl) != 0 ||
	    take_field(&payload, &len, KEYGEN_RECOVER_MAX_EXP, &eb, &el) != 0 ||
	    take_field(&payload, &len, KEYGEN_RECOVER_MAX_EXP, &db, &dl) != 0 || len != 0)
		return worker_reply(fd, req->id, ST_FAILED, "bad RSA prime recovery request", NULL, 0, NULL, 0);
	if ((ctx = BN_CTX_secure_new()) != NULL) {
		BN_CTX_start(ctx);
		n = BN_CTX_get(ctx);
		e = BN_CTX_get(ctx);
		d = BN_CTX_get(ctx);
		p = BN_CTX_get(ctx);
		q = BN_CTX_get(ctx);
		if (q != NULL && BN_bin2bn(nb, (int)nl, n) != NULL && BN_bin2bn(eb, (int)el, e) != NULL &&
		    BN_bin2bn(db, (int)dl, d) != NULL) {
			BN_set_flags(d, BN_FLG_CONSTTIME);
			if ((why = recover_primes(ctx, n, e, d, p, q)) == NULL &&
			    ((pl = BN_bn2bin(p, pb)) <= 0 || (ql = BN_bn2bin(q, qb)) <= 0))
				why = "arithmetic failed";
		}
	}
	ERR_clear_error();
	rc = worker_reply(fd, req->id, why == NULL ? ST_OK : ST_FAILED, why != NULL ? why : "", pb, (size_t)pl, qb,
	    (size_t)ql);
	OPENSSL_cleanse(pb, sizeof(pb));
	OPENSSL_cleanse(qb, sizeof(qb));
	if (ctx != NULL)
		BN_CTX_end(ctx);
	BN_CTX_free(ctx);
	return rc;
}

/* Generates one key pair and writes the response. Returns 0, or -1 when the parent cannot be written to. */
static int
worker_generate(int fd, const struct kg_req *req)
{
	struct gen_state gs = { fd, false };
	struct kg_resp h;
	EVP_PKEY_CTX *ctx = NULL, *pctx = NULL;
	OSSL_ENCODER_CTX *ectx = NULL;
	EVP_PKEY *pkey = NULL, *params = NULL;
	unsigned char *priv = NULL, *pub = NULL;
	size_t priv_len = 0, pub_len = 0;
	char msg[MSG_MAX + 1] = "", what[48];
	int n, rc;

	memset(&h, 0, sizeof(h));
	h.id = req->id;
	h.status = ST_FAILED;
	ERR_clear_error();
	if (!spec_check(req->op, req->param, msg, sizeof(msg)))
		goto reply;
	if (req->op == OP_RSA)
		snprintf(what, sizeof(what), "RSA-%u key generation failed", req->param);
	else if (req->op == OP_DSA)
		snprintf(what, sizeof(what), "DSA-%u key generation failed", req->param);
	else
		snprintf(what, sizeof(what), "EC %s key generation failed", OBJ_nid2sn((int)req->param));
	if (req->op == OP_DSA) {
		/* The domain parameters first (the seconds of the job), then the key on them. */
		if ((pctx = EVP_PKEY_CTX_new_from_name(NULL, "DSA", NULL)) == NULL || EVP_PKEY_paramgen_init(pctx) <= 0 ||
		    EVP_PKEY_CTX_set_dsa_paramgen_bits(pctx, (int)req->param) <= 0 ||
		    EVP_PKEY_CTX_set_dsa_paramgen_q_bits(pctx, req->param == 1024 ? 160 : 256) <= 0)
			goto ossl_fail;
		EVP_PKEY_CTX_set_app_data(pctx, &gs);
		EVP_PKEY_CTX_set_cb(pctx, gen_progress_cb);
		if (EVP_PKEY_paramgen(pctx, &params) <= 0) {
			if (gs.aborted)
				goto aborted;
			goto ossl_fail;
		}
		ctx = EVP_PKEY_CTX_new_from_pkey(NULL, params, NULL);
	} else
		ctx = EVP_PKEY_CTX_new_from_name(NULL, req->op == OP_RSA ? "RSA" : "EC", NULL);
	if (ctx == NULL || EVP_PKEY_keygen_init(ctx) <= 0)
		goto ossl_fail;
	if (req->op == OP_RSA) {
		if (EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int)req->param) <= 0)
			goto ossl_fail;
	} else if (req->op == OP_EC && EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx, (int)req->param) <= 0) {
		goto ossl_fail;
	}
	EVP_PKEY_CTX_set_app_data(ctx, &gs);
	EVP_PKEY_CTX_set_cb(ctx, gen_progress_cb);
	if (EVP_PKEY_generate(ctx, &pkey) <= 0) {
		if (gs.aborted)
			goto aborted;
		goto ossl_fail;
	}
	ectx = OSSL_ENCODER_CTX_new_for_pkey(pkey, EVP_PKEY_KEYPAIR, "DER", "PrivateKeyInfo", NULL);
	if (ectx == NULL || OSSL_ENCODER_to_data(ectx, &priv, &priv_len) <= 0)
		goto ossl_fail;
	if ((n = i2d_PUBKEY(pkey, &pub)) <= 0)
		goto ossl_fail;
	pub_len = (size_t)n;
	if (priv_len == 0 || priv_len > DER_MAX || pub_len > DER_MAX) {
		snprintf(msg, sizeof(msg), "%s: encoded key too large", what);
		goto reply;
	}
	h.status = ST_OK;
	goto reply;
aborted:
	h.status = ST_ABORTED;
	snprintf(msg, sizeof(msg), "aborted");
	ERR_clear_error();
	goto reply;
ossl_fail:
	ossl_reason(msg, sizeof(msg), what);
reply:
	rc = worker_reply(fd, req->id, h.status, msg, priv, priv_len, pub, pub_len);
	if (priv != NULL)
		OPENSSL_clear_free(priv, priv_len);
	OPENSSL_free(pub);
	OSSL_ENCODER_CTX_free(ectx);
	EVP_PKEY_free(pkey);
	EVP_PKEY_free(params);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_CTX_free(pctx);
	return rc;
}

/* Moves fd to want (which must be free or fd itself); the copy keeps cloexec as asked. -1 on failure. */
static int
move_fd(int fd, int want, bool cloexec)
{
	if (fd == want)
		return fcntl(fd, F_SETFD, cloexec ? FD_CLOEXEC : 0);
	return dup3(fd, want, cloexec ? O_CLOEXEC : 0) == want ? 0 : -1;
}

/*
 * Before exec: the socket as descriptor 3, the binary as 4 (closed by the exec itself), stdio 0 and 1 on
 * /dev/null (stderr left for diagnostics), nothing else.
 */
static int
child_fds(int fd, int exe_fd)
{
	int null, i, max, hi_fd, hi_exe;

	/* Both out of the way first: either may be sitting on 3 or 4. */
	if ((hi_fd = fcntl(fd, F_DUPFD_CLOEXEC, 10)) == -1 || (hi_exe = fcntl(exe_fd, F_DUPFD_CLOEXEC, 10)) == -1)
		return -1;
	if (move_fd(hi_fd, 3, false) != 0 || move_fd(hi_exe, 4, true) != 0)
		return -1;
	/* Not close-on-exec: it may land on 0, 1 or 2 itself (a parent with closed stdio). */
	if ((null = open("/dev/null", O_RDWR)) != -1) {
		(void)dup2(null, 0);
		(void)dup2(null, 1);
	}
	if (close_range(5, ~0U, 0) != 0) {
		max = (int)sysconf(_SC_OPEN_MAX);
		if (max < 0 || max > 65536)
			max = 65536;
		for (i = 5; i < max; i++)
			(void)close(i);
	}
	/* null, if above 4, went with the rest; at 0..2 it now serves as stdio. */
	return 0;
}

/*
 * The child side of a spawn, between fork and exec: signals back to their defaults (libevent's handlers
 * must never run here) with SIGPIPE ignored (which exec keeps), death with the parent (kept across exec),
 * its own process group, only its socket and the binary open, then exec. Never returns.
 */
static void __attribute__((noreturn))
worker_exec(int exe_fd, int fd, pid_t parent)
{
	static char *const argv[] = { (char *)KEYGEN_WORKER_NAME, NULL };
	extern char **environ;
	struct sigaction sa;
	sigset_t none;
	int sig;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)sigaction(sig, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGPIPE, &sa, NULL);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		_exit(1);
	/* Its own process group: a Ctrl-C meant for a foreground kmipd stops kmipd, which stops us. */
	(void)setpgid(0, 0);
	if (child_fds(fd, exe_fd) != 0)
		_exit(1);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	(void)execve("/proc/self/fd/4", argv, environ);
	_exit(127);
}

/*
 * Loads what the worker's jobs use while it may still open files: OpenSSL's configuration (and the
 * providers it activates), the algorithms, and a seeded random generator. Returns 0, or -1.
 */
static int
worker_preload(void)
{
	static const char *const keytypes[] = { "RSA", "EC", "DSA" };
	static const char *const digests[] = { "SHA1", "SHA224", "SHA256", "SHA384", "SHA512", "SHA512-224",
	    "SHA512-256", "SHA3-224", "SHA3-256", "SHA3-384", "SHA3-512", "MD5" };
	EVP_PKEY_CTX *ctx;
	unsigned char b;
	size_t i;

	if (OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL) != 1 || RAND_bytes(&b, 1) != 1)
		return -1;
	/* PBKDF2 (its KDF, HMAC and SHA-256), as a derivation job uses it. */
	if (PKCS5_PBKDF2_HMAC("", 0, &b, 1, 1, EVP_sha256(), 1, &b) != 1)
		return -1;
	/* The digests a Derive Key PBKDF2 may name (MD5 may be missing from a FIPS build: not required). */
	for (i = 0; i < sizeof(digests) / sizeof(digests[0]); i++)
		EVP_MD_free(EVP_MD_fetch(NULL, digests[i], NULL));
	ERR_clear_error();
	for (i = 0; i < sizeof(keytypes) / sizeof(keytypes[0]); i++) {
		if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, keytypes[i], NULL)) == NULL)
			return -1;
		EVP_PKEY_CTX_free(ctx);
	}
	return 0;
}

/* The worker after exec; see keygen.h. */
void
keygen_worker_main(void)
{
	static uint8_t payload[PAYLOAD_MAX];
	struct kg_req req;
	char why[128];
	int fd = 3, rc, prio;

	/* It holds private keys and passwords while it works: no core dumps, no ptrace by the same user. */
	(void)prctl(PR_SET_DUMPABLE, 0);
	/*
	 * Below the loop's priority: on a busy core the loop, which answers everyone, runs first, and a worker
	 * still has the core to itself whenever the loop waits. (Raising niceness needs no privilege.)
	 */
	errno = 0;
	prio = getpriority(PRIO_PROCESS, 0);
	if (errno == 0)
		(void)setpriority(PRIO_PROCESS, 0, prio + KEYGEN_WORKER_NICE > 19 ? 19 : prio + KEYGEN_WORKER_NICE);
	/*
	 * Everything a job needs from files is loaded now (OpenSSL's configuration, its providers, the random
	 * generator's seed); then the sandbox leaves only computing and the socket (descriptors 0-3).
	 */
	if (worker_preload() != 0) {
		(void)dprintf(2, "%s: could not load OpenSSL's algorithms\n", KEYGEN_WORKER_NAME);
		_exit(1);
	}
	if (sandbox_enter(4, why, sizeof(why)) != 0) {
		(void)dprintf(2, "%s: %s\n", KEYGEN_WORKER_NAME, why);
		_exit(1);
	}
	for (;;) {
		switch (read_full(fd, &req, sizeof(req))) {
		case 0:
			_exit(0);
		case 1:
			break;
		default:
			_exit(1);
		}
		if (req.payload_len > sizeof(payload) || (req.payload_len > 0 &&
		    read_full(fd, payload, req.payload_len) != 1))
			_exit(1);
		switch (req.op) {
		case OP_ABORT:
			continue;	/* arrived after its job finished */
		case OP_PBKDF2:
			rc = worker_pbkdf2(fd, &req, payload, req.payload_len);
			break;
		case OP_RECOVER:
			rc = worker_recover(fd, &req, payload, req.payload_len);
			break;
		case OP_DERIVE:
			rc = worker_derive(fd, &req, payload, req.payload_len);
			break;
		default:
			rc = worker_generate(fd, &req);
			break;
		}
		OPENSSL_cleanse(payload, req.payload_len);
		if (rc != 0)
			_exit(1);
	}
}

/* ---- parent side: lifecycle ---- */

/* Forks the worker of slot w. Returns 0, or -1 with errno set. */
static int
worker_spawn(struct worker *w)
{
	struct keygen *kg = w->kg;
	sigset_t all, old;
	pid_t pid, parent = getpid();
	int sv[2], saved;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return -1;
	/* Blocked across fork so that no handler of the parent's (libevent's) runs in the child. */
	sigfillset(&all);
	(void)sigprocmask(SIG_BLOCK, &all, &old);
	pid = fork();
	if (pid == 0)
		worker_exec(kg->exe_fd, sv[1], parent);
	saved = errno;
	(void)sigprocmask(SIG_SETMASK, &old, NULL);
	close(sv[1]);
	if (pid == -1) {
		close(sv[0]);
		errno = saved;
		return -1;
	}
	if (evutil_make_socket_nonblocking(sv[0]) != 0 ||
	    (w->ev = event_new(kg->base, sv[0], EV_READ | EV_PERSIST, worker_read_cb, w)) == NULL ||
	    event_add(w->ev, NULL) != 0) {
		saved = errno;
		if (w->ev != NULL)
			event_free(w->ev);
		w->ev = NULL;
		close(sv[0]);
		(void)kill(pid, SIGKILL);
		zombie_add(kg, pid, w->idx, true);
		errno = saved ? saved : ENOMEM;
		return -1;
	}
	w->fd = sv[0];
	w->pid = pid;
	w->state = WORKER_IDLE;
	w->answered = false;
	w->rlen = 0;
	clock_gettime(CLOCK_MONOTONIC, &w->started);
	return 0;
}

/*
 * Opens the binary this process runs, for the workers to exec. /proc/self/exe names it (valgrind answers
 * with its client's name, where exec'ing /proc/self/exe itself would start valgrind's own tool); holding it
 * open keeps this very build runnable after a package upgrade replaced the file. -1 with *cause set.
 */
static int
open_self(char **cause)
{
	char path[4096];
	ssize_t n;
	int fd;

	if ((n = readlink("/proc/self/exe", path, sizeof(path) - 1)) < 0) {
		*cause = kg_strdup_printf("cannot find this program's binary (/proc/self/exe): %s", strerror(errno));
		return -1;
	}
	path[n] = '\0';
	/* O_PATH: exec needs no read permission, and the file may have been replaced since (an upgrade). */
	if ((fd = open(path, O_PATH | O_CLOEXEC)) == -1) {
		*cause = kg_strdup_printf("cannot open this program's binary %s for the key generation workers: %s",
		    path, strerror(errno));
		return -1;
	}
	return fd;
}

/* Starts the workers; see keygen.h. */
int
keygen_start(struct event_base *base, unsigned workers, unsigned pool_size, unsigned timeout_sec,
    struct keygen **out, char **cause)
{
	struct keygen *kg = NULL;
	unsigned i;

	*out = NULL;
	*cause = NULL;
	if (workers < 1 || workers > KEYGEN_MAX_WORKERS) {
		*cause = kg_strdup_printf("keygen workers must be 1..%d, not %u", KEYGEN_MAX_WORKERS, workers);
		return -1;
	}
	if (pool_size > KEYGEN_MAX_POOL) {
		*cause = kg_strdup_printf("keygen pool size must be 0..%d, not %u", KEYGEN_MAX_POOL, pool_size);
		return -1;
	}
	if (timeout_sec < 1 || timeout_sec > KEYGEN_MAX_TIMEOUT) {
		*cause = kg_strdup_printf("keygen timeout must be 1..%d s, not %u", KEYGEN_MAX_TIMEOUT,
		    timeout_sec);
		return -1;
	}
	if ((kg = calloc(1, sizeof(*kg))) == NULL)
		goto nomem;
	kg->exe_fd = -1;
	if ((kg->exe_fd = open_self(cause)) == -1)
		goto fail;
	kg->base = base;
	kg->nworkers = workers;
	kg->pool_size = pool_size;
	kg->timeout_sec = timeout_sec;
	TAILQ_INIT(&kg->queue);
	TAILQ_INIT(&kg->owners);
	TAILQ_INIT(&kg->turns);
	kg->max_per_owner = KEYGEN_MAX_PER_OWNER;
	TAILQ_INIT(&kg->done);
	kg->tv_plain.tv_sec = timeout_sec;
	kg->tv_timeout = event_base_init_common_timeout(base, &kg->tv_plain);
	if (kg->tv_timeout == NULL)
		kg->tv_timeout = &kg->tv_plain;
	if ((kg->pool = calloc(pool_size ? pool_size : 1, sizeof(*kg->pool))) == NULL ||
	    (kg->workers = calloc(workers, sizeof(*kg->workers))) == NULL ||
	    (kg->deliver_ev = event_new(base, -1, 0, deliver_cb, kg)) == NULL ||
	    (kg->reap_ev = evtimer_new(base, reap_cb, kg)) == NULL ||
	    (kg->refill_ev = evtimer_new(base, refill_resume_cb, kg)) == NULL)
		goto nomem;
	for (i = 0; i < workers; i++) {
		struct worker *w = &kg->workers[i];

		w->kg = kg;
		w->idx = i;
		w->fd = -1;
		w->state = WORKER_DOWN;
		if ((w->rbuf = malloc(RESP_MAX)) == NULL ||
		    (w->deadline = evtimer_new(base, worker_deadline_cb, w)) == NULL ||
		    (w->restart = evtimer_new(base, worker_restart_cb, w)) == NULL)
			goto nomem;
	}
	for (i = 0; i < workers; i++) {
		if (worker_spawn(&kg->workers[i]) != 0) {
			*cause = kg_strdup_printf("cannot start key generation worker %u: %s", i, strerror(errno));
			goto fail;
		}
	}
	log_debug("keygen: %u workers, pool of %u RSA-2048 key pairs, timeout %u s", workers, pool_size,
	    timeout_sec);
	kg_schedule(kg);
	*out = kg;
	return 0;
nomem:
	*cause = kg_strdup_printf("keygen: out of memory");
fail:
	keygen_free(kg);
	return -1;
}

/* Caps one owner's outstanding jobs; see keygen.h. */
void
keygen_set_max_per_owner(struct keygen *kg, unsigned max)
{
	kg->max_per_owner = max < 1 ? 1 : max > KEYGEN_MAX_PER_OWNER ? KEYGEN_MAX_PER_OWNER : max;
}

/* Appends a payload field (u32 length, bytes) at *off of buf. */
static void
put_field(uint8_t *buf, size_t *off, const uint8_t *p, size_t len)
{
	uint32_t l = (uint32_t)len;

	memcpy(buf + *off, &l, sizeof(l));
	if (len > 0)
		memcpy(buf + *off + sizeof(l), p, len);
	*off += sizeof(l) + len;
}

/*
 * Sets the job's request from its spec: the op, its parameter and, for a derivation or a recovery, a copy of
 * the inputs. Returns 0, 1 with msg set when the spec is refused, or -1 when out of memory.
 */
static int
job_request(struct keygen_job *job, const struct keygen_spec *spec, char *msg, size_t size)
{
	const uint8_t *f[4];
	size_t fl[4], nf, i, off = 0;
	uint32_t out_len;

	switch (spec->alg) {
	case KEYGEN_RSA:
	case KEYGEN_EC:
		job->op = (uint32_t)spec->alg;
		job->param = spec->alg == KEYGEN_RSA ? spec->bits : (uint32_t)spec->curve_nid;
		return spec_check(job->op, job->param, msg, size) ? 0 : 1;
	case KEYGEN_DSA:
		job->op = OP_DSA;
		job->param = spec->bits;
		return spec_check(job->op, job->param, msg, size) ? 0 : 1;
	case KEYGEN_DERIVE:
		if (spec->iterations < 1 || spec->iterations > KEYGEN_PBKDF2_MAX_ITERATIONS ||
		    spec->salt_len > KEYGEN_DERIVE_MAX_SALT || spec->password_len > KEYGEN_DERIVE_MAX_PASSWORD ||
		    spec->out_len < 1 || spec->out_len > KEYGEN_DERIVE_MAX_LEN || spec->digest == NULL ||
		    strlen(spec->digest) < 1 || strlen(spec->digest) > KEYGEN_DERIVE_MAX_DIGEST) {
			snprintf(msg, size, "key derivation out of bounds");
			return 1;
		}
		job->op = OP_DERIVE;
		job->param = spec->iterations;
		out_len = (uint32_t)spec->out_len;
		f[0] = (const uint8_t *)spec->digest, fl[0] = strlen(spec->digest);
		f[1] = (const uint8_t *)&out_len, fl[1] = sizeof(out_len);
		f[2] = spec->salt, fl[2] = spec->salt_len;
		f[3] = spec->password, fl[3] = spec->password_len;
		nf = 4;
		break;
	case KEYGEN_PBKDF2:
		if (spec->iterations < 1 || spec->iterations > KEYGEN_PBKDF2_MAX_ITERATIONS ||
		    spec->salt_len > KEYGEN_PBKDF2_MAX_SALT || spec->password_len > KEYGEN_PBKDF2_MAX_PASSWORD) {
			snprintf(msg, size, "password derivation out of bounds");
			return 1;
		}
		job->op = OP_PBKDF2;
		job->param = spec->iterations;
		f[0] = spec->salt, fl[0] = spec->salt_len;
		f[1] = spec->password, fl[1] = spec->password_len;
		nf = 2;
		break;
	case KEYGEN_RSA_RECOVER:
		if (spec->n_len == 0 || spec->n_len > KEYGEN_RECOVER_MAX_BITS / 8 || spec->e_len == 0 ||
		    spec->e_len > KEYGEN_RECOVER_MAX_EXP || spec->d_len == 0 || spec->d_len > KEYGEN_RECOVER_MAX_EXP) {
			snprintf(msg, size, "the RSA key cannot have its primes recovered (too large: send P and Q)");
			return 1;
		}
		job->op = OP_RECOVER;
		f[0] = spec->n, fl[0] = spec->n_len;
		f[1] = spec->e, fl[1] = spec->e_len;
		f[2] = spec->d, fl[2] = spec->d_len;
		nf = 3;
		break;
	default:
		snprintf(msg, size, "key generation algorithm %d not supported", (int)spec->alg);
		return 1;
	}
	for (i = 0; i < nf; i++)
		job->payload_len += sizeof(uint32_t) + fl[i];
	/* Within PAYLOAD_MAX by the bounds above. */
	if ((job->payload = malloc(job->payload_len)) == NULL)
		return -1;
	for (i = 0; i < nf; i++)
		put_field(job->payload, &off, f[i], fl[i]);
	return 0;
}

/* Queues a job; see keygen.h. */
struct keygen_job *
keygen_submit(struct keygen *kg, const struct keygen_spec *spec, keygen_cb cb, void *arg)
{
	const char *owner = spec->owner != NULL ? spec->owner : "";
	struct keygen_job *job;
	struct kg_owner *o;
	char msg[160];
	int rc;

	if ((job = calloc(1, sizeof(*job))) == NULL)
		return NULL;
	if ((job->res = calloc(1, sizeof(*job->res))) == NULL) {
		free(job);
		return NULL;
	}
	job->kg = kg;
	job->spec = *spec;
	job->spec.owner = NULL;
	job->spec.salt = job->spec.password = job->spec.n = job->spec.e = job->spec.d = NULL;
	job->spec.digest = NULL;
	job->cb = cb;
	job->arg = arg;
	if ((rc = job_request(job, spec, msg, sizeof(msg))) < 0) {
		job_free(job);
		return NULL;
	}
	if (rc > 0) {
		job_fail(job, "%s", msg);
		return job;
	}
	/*
	 * Credential derivations are bounded by the engine per identity and per source; key work (Derive Key's
	 * PBKDF2 with it) by this cap.
	 */
	job->capped = spec->alg != KEYGEN_PBKDF2;
	o = owner_find(kg, owner);
	if (job->capped && o != NULL && o->capped >= kg->max_per_owner) {
		kg->st.refused++;
		job_fail(job, "this client already has %u key generations, derivations or RSA prime recoveries under way "
		    "(keygen.max_per_identity); send it again once they are answered", o->capped);
		return job;
	}
	if (o == NULL && (o = owner_get(kg, owner)) == NULL) {
		job_free(job);
		return NULL;
	}
	job->owner = o;
	o->jobs++;
	if (job->capped)
		o->capped++;
	if (is_rsa2048(spec) && kg->pool_size > 0) {
		if (kg->pool_ready > 0) {
			kg->st.pool_hits++;
			job_from_pool(job);
			kg_schedule(kg);	/* refill */
			return job;
		}
		kg->st.pool_misses++;
	}
	if (kg_unavailable(kg)) {
		job_fail(job, "no key generation worker is running (restarts keep failing)");
		return job;
	}
	queue_add(kg, job, false);
	kg_schedule(kg);
	return job;
}

/* Whether a worker runs the job; see keygen.h. */
bool
keygen_job_running(const struct keygen_job *job)
{
	return job->state == JOB_RUNNING;
}

/* Forgets a job whose caller went away; see keygen.h. */
void
keygen_cancel(struct keygen_job *job)
{
	struct keygen *kg;
	bool to_pool;

	if (job == NULL)
		return;
	kg = job->kg;
	switch (job->state) {
	case JOB_QUEUED:
		queue_remove(kg, job);
		job_free(job);
		break;
	case JOB_DONE:
		TAILQ_REMOVE(&kg->done, job, entry);
		kg->ndone--;
		job_free(job);
		break;
	case JOB_RUNNING:
		to_pool = is_rsa2048(&job->spec) && kg->pool_ready + pool_pending(kg) < kg->pool_size;
		job->background = true;
		job->cb = NULL;
		job->arg = NULL;
		/*
		 * A derivation or a recovery cannot be stopped half way: it runs out, its answer dropped. Until
		 * its worker is free again (or the abort of a key generation lands) it still counts for its owner,
		 * cap and fair share both: else a client could hang up and ask again to hold every worker. Only
		 * a key pair going to the pool, which serves everyone, stops counting now.
		 */
		if (to_pool)
			job_disown(job);
		if (!to_pool && abortable(job))
			worker_abort(job->worker);
		kg_schedule(kg);	/* a queued RSA-2048 job may adopt it */
		break;
	}
}

/* Waits up to ms for pid to exit. Returns true when it was reaped (or is not ours to reap). */
static bool
wait_exit(pid_t pid, unsigned ms)
{
	struct timespec ts = { 0, 5 * 1000000 };
	int64_t end = clock_ms() + ms;
	int status;
	pid_t r;

	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid || (r == -1 && errno != EINTR))
			return true;
		if (clock_ms() >= end)
			return false;
		nanosleep(&ts, NULL);
	}
}

/* Stops and reaps every worker and frees everything without calling callbacks; see keygen.h. */
void
keygen_free(struct keygen *kg)
{
	struct keygen_job *job;
	pid_t *pids;
	unsigned i, n = 0;
	int status;

	if (kg == NULL)
		return;
	pids = calloc((size_t)kg->nworkers + kg->nzombies + 1, sizeof(*pids));
	for (i = 0; kg->workers != NULL && i < kg->nworkers; i++) {
		struct worker *w = &kg->workers[i];

		if (w->state != WORKER_DOWN) {
			/* End of file stops an idle worker; SIGTERM one in the middle of a key. */
			event_free(w->ev);
			close(w->fd);
			(void)kill(w->pid, SIGTERM);
			if (pids != NULL)
				pids[n++] = w->pid;
			else
				(void)wait_exit(w->pid, FREE_GRACE_MS);
			if (w->job != NULL)
				job_free(w->job);
		}
		if (w->deadline != NULL)
			event_free(w->deadline);
		if (w->restart != NULL)
			event_free(w->restart);
		if (w->rbuf != NULL) {
			OPENSSL_cleanse(w->rbuf, RESP_MAX);
			free(w->rbuf);
		}
	}
	for (i = 0; i < kg->nzombies; i++) {
		if (pids != NULL)
			pids[n++] = kg->zombies[i].pid;
		else
			(void)wait_exit(kg->zombies[i].pid, FREE_GRACE_MS);
	}
	for (i = 0; i < n; i++) {
		if (!wait_exit(pids[i], FREE_GRACE_MS)) {
			log_warnx("keygen: worker pid %d ignored SIGTERM; killing it", (int)pids[i]);
			(void)kill(pids[i], SIGKILL);
			while (waitpid(pids[i], &status, 0) == -1 && errno == EINTR)
				;
		}
	}
	free(pids);
	free(kg->zombies);
	free(kg->workers);
	while ((job = TAILQ_FIRST(&kg->queue)) != NULL) {
		queue_remove(kg, job);
		job_free(job);
	}
	while ((job = TAILQ_FIRST(&kg->done)) != NULL) {
		TAILQ_REMOVE(&kg->done, job, entry);
		job_free(job);
	}
	for (i = 0; kg->pool != NULL && i < kg->pool_ready; i++)
		keygen_result_free(kg->pool[i]);
	free(kg->pool);
	if (kg->deliver_ev != NULL)
		event_free(kg->deliver_ev);
	if (kg->reap_ev != NULL)
		event_free(kg->reap_ev);
	if (kg->refill_ev != NULL)
		event_free(kg->refill_ev);
	if (kg->exe_fd != -1)
		close(kg->exe_fd);
	free(kg);
}

/* Fills st with counters and the current state. */
void
keygen_stats(const struct keygen *kg, struct keygen_stats *st)
{
	unsigned i;

	*st = kg->st;
	st->pool_ready = kg->pool_ready;
	st->queued = kg->nqueued;
	st->busy_workers = 0;
	for (i = 0; i < kg->nworkers; i++)
		if (kg->workers[i].state == WORKER_BUSY)
			st->busy_workers++;
}

/* Test hook; see keygen.h. */
size_t
keygen_worker_pids(const struct keygen *kg, pid_t *pids, size_t n)
{
	size_t i;

	for (i = 0; i < n && i < kg->nworkers; i++)
		pids[i] = kg->workers[i].state == WORKER_DOWN ? 0 : kg->workers[i].pid;
	return kg->nworkers;
}

/* Worker i's share of total; see keygen.h. */
unsigned
keygen_share(unsigned total, unsigned i, unsigned n, unsigned min)
{
	unsigned share;

	if (n == 0)
		return total;
	share = total / n + (i < total % n ? 1 : 0);
	return share < min ? min : share;
}
