/*
 * Key-generation workers: RSA, EC and DSA key pairs are generated in forked worker processes that talk to the
 * loop over socketpairs, so a 0.35 s (up to 1.2 s, or seconds for RSA-4096 and for DSA's parameters)
 * generation never stalls the loop. A pool of pre-generated RSA-2048 key pairs, refilled while workers have
 * nothing else to do, answers bursts at once. The workers also run the other work a client can make expensive:
 * the PBKDF2 derivation of a Credential's password, Derive Key's PBKDF2 (digest, length and Iteration Count
 * the client's), and the recovery of an RSA key's primes from n, e and d.
 *
 * Fairness: every job names its owner (the client identity). Each owner has its own FIFO and idle workers
 * take the next job of the next owner in turn (round-robin), so one identity's long queue delays another's
 * job by at most the jobs already running. keygen_set_max_per_owner() caps the key generations, Derive Key
 * derivations and recoveries one owner may have outstanding; beyond it a job is answered at once with an error.
 *
 * Everything runs in the loop's thread; callbacks are always delivered from the loop, never from inside a
 * keygen_* call. A worker that dies or overruns its deadline is reaped and restarted, and its job answered.
 * No SIGCHLD handler is installed: a worker's death is seen as EOF on its socket and the worker is reaped
 * with waitpid() on its own pid only (other children of the process are left alone).
 */
#ifndef KMIPD_KEYGEN_H
#define KMIPD_KEYGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;
struct keygen;
struct keygen_job;

/*
 * A worker is the program itself, exec'd with this argv[0]: every program that starts workers (kmipd, and
 * tests that call keygen_start) begins its main() with
 *	if (argc > 0 && strcmp(argv[0], KEYGEN_WORKER_NAME) == 0)
 *		keygen_worker_main();
 */
#define KEYGEN_WORKER_NAME	"kmipd-keygen"

#define KEYGEN_WORKER_NICE	5	/* workers run this much nicer than the server */
#define KEYGEN_MAX_WORKERS	64
#define KEYGEN_MAX_POOL		4096
#define KEYGEN_MAX_TIMEOUT	3600	/* seconds */
#define KEYGEN_RSA_MIN_BITS	1024
#define KEYGEN_RSA_MAX_BITS	8192
#define KEYGEN_MAX_PER_OWNER	4096
#define KEYGEN_PBKDF2_MAX_ITERATIONS	10000000	/* ~4 s of one core */
#define KEYGEN_PBKDF2_MAX_SALT		256
#define KEYGEN_PBKDF2_MAX_PASSWORD	1024
#define KEYGEN_PBKDF2_LEN		32		/* bytes derived: a SHA-256 output */
#define KEYGEN_RECOVER_MAX_BITS		4096		/* modulus of a key whose primes are recovered */
#define KEYGEN_RECOVER_MAX_EXP		2048		/* bytes of e or d, as a client may send them */
#define KEYGEN_DSA_MIN_BITS		1024		/* DSA: the size of p generated */
#define KEYGEN_DSA_MAX_BITS		3072
#define KEYGEN_DERIVE_MAX_LEN		4096		/* bytes a Derive Key PBKDF2 job makes at most */
#define KEYGEN_DERIVE_MAX_PASSWORD	4096		/* bytes of the source key (the PBKDF2 password) */
#define KEYGEN_DERIVE_MAX_SALT		1024
#define KEYGEN_DERIVE_MAX_DIGEST	15		/* characters of the digest's name ("SHA512-256") */

enum keygen_alg {
	KEYGEN_RSA = 1,
	KEYGEN_EC = 2,
	KEYGEN_PBKDF2 = 3,		/* PBKDF2-HMAC-SHA256 of a password (a Credential check) */
	KEYGEN_RSA_RECOVER = 4,		/* the primes of an RSA key from its n, e and d */
	KEYGEN_DSA = 5,			/* a DSA key pair, its domain parameters generated first (seconds) */
	KEYGEN_DERIVE = 6,		/* Derive Key: PBKDF2-HMAC with a digest and an output length asked */
};

/*
 * A job. The pointers are read during keygen_submit() only (the job keeps its own copy, wiped when done).
 * Byte strings of numbers are unsigned big-endian.
 */
struct keygen_spec {
	enum keygen_alg alg;
	unsigned bits;			/* RSA: 2048, 3072, 4096 (1024..8192 accepted); DSA: 1024, 2048, 3072 */
	int curve_nid;			/* EC: NID_X9_62_prime256v1, NID_secp384r1, NID_secp521r1 */
	const char *owner;		/* the client identity asking (fair queueing, the cap); NULL = "" */
	/* KEYGEN_PBKDF2: 1..KEYGEN_PBKDF2_MAX_ITERATIONS, salt and password within their maxima */
	unsigned iterations;
	const uint8_t *salt;
	size_t salt_len;
	const uint8_t *password;
	size_t password_len;
	/*
	 * KEYGEN_DERIVE: iterations, salt (at most KEYGEN_DERIVE_MAX_SALT) and password (the source key, at most
	 * KEYGEN_DERIVE_MAX_PASSWORD) as above, and the HMAC's digest (an OpenSSL name such as "SHA256") and
	 * the bytes to derive (1..KEYGEN_DERIVE_MAX_LEN).
	 */
	const char *digest;
	size_t out_len;
	/* KEYGEN_RSA_RECOVER: n of at most KEYGEN_RECOVER_MAX_BITS, e and d of KEYGEN_RECOVER_MAX_EXP bytes */
	const uint8_t *n, *e, *d;
	size_t n_len, e_len, d_len;
};

/*
 * What a job produced. KEYGEN_RSA, KEYGEN_EC: the key pair, checked by the parent (the PKCS#8 and
 * SubjectPublicKeyInfo parse, are of the algorithm, size or curve asked, and belong together).
 * KEYGEN_DSA: the same, checked likewise (p of the size asked, y = g^x).
 * KEYGEN_PBKDF2: private_der holds the KEYGEN_PBKDF2_LEN derived bytes, public_der is NULL.
 * KEYGEN_DERIVE: private_der holds the out_len derived bytes, public_der is NULL.
 * KEYGEN_RSA_RECOVER: private_der holds P and public_der Q (unsigned big-endian, P > Q, P Q = n); a key
 * whose exponents do not match its modulus fails with a message saying so.
 */
struct keygen_result {
	int status;			/* 0 ok, else -1 */
	char message[160];		/* why it failed, for the KMIP Result Message and logs */
	uint8_t *private_der;		/* PKCS#8 PrivateKeyInfo DER (unencrypted), owned by the result */
	size_t private_len;
	uint8_t *public_der;		/* X.509 SubjectPublicKeyInfo DER */
	size_t public_len;
};

/*
 * Called from the loop with the result of a job. The callback owns res and must call keygen_result_free(res)
 * (which wipes the private key) when done with it. The job handle is gone once the callback runs: do not
 * pass it to keygen_cancel() afterwards. The callback may submit and cancel other jobs, but must not call
 * keygen_free().
 */
typedef void (*keygen_cb)(struct keygen_result *res, void *arg);

struct keygen_stats {
	uint64_t generated;		/* key pairs produced by workers (pool refills included) */
	uint64_t pool_hits;		/* RSA-2048 jobs answered from the pool at submission */
	uint64_t pool_misses;		/* RSA-2048 jobs that found the pool empty (only when pool_size > 0) */
	uint64_t worker_restarts;	/* workers forked again after a death or a timeout */
	uint64_t failures;		/* jobs answered with an error */
	uint64_t refused;		/* jobs refused at once: their owner had max_per_owner outstanding */
	uint64_t bad_answers;		/* answers that failed the parent's checks (the worker was killed) */
	unsigned pool_ready;		/* pre-generated key pairs waiting in the pool */
	unsigned queued;		/* jobs waiting for a worker */
	unsigned busy_workers;		/* workers generating (pool refills included) */
};

/* The worker process: answers the requests arriving on descriptor 3 until it closes. Never returns. */
void keygen_worker_main(void) __attribute__((noreturn));

/*
 * Forks `workers` worker processes (1..KEYGEN_MAX_WORKERS) watched by base, keeps up to pool_size
 * (0..KEYGEN_MAX_POOL) RSA-2048 key pairs ready, and gives each job timeout_sec (1..KEYGEN_MAX_TIMEOUT) on a
 * worker. Workers exec the caller's binary (KEYGEN_WORKER_NAME): they share none of its memory.
 * Returns 0, or -1 with *cause set (malloc'd, the caller frees it) and nothing left running.
 */
int keygen_start(struct event_base *base, unsigned workers, unsigned pool_size, unsigned timeout_sec,
    struct keygen **out, char **cause) __attribute__((warn_unused_result));

/*
 * Caps the key generations, prime recoveries and Derive Key derivations (not Credential password derivations,
 * which the engine bounds on its own) one owner may have queued or running: 1..KEYGEN_MAX_PER_OWNER. Jobs
 * submitted beyond it are answered with an error. Applies to jobs submitted from now on. The default is
 * KEYGEN_MAX_PER_OWNER.
 */
void keygen_set_max_per_owner(struct keygen *kg, unsigned max);
/*
 * Issue 18's split of keygen.workers and keygen.pool_size between N server worker processes: worker i
 * (0..n-1) gets total / n, one more for each of the first total % n workers, and at least min (1 generator
 * process each: every worker needs one; 0 for the pool), so that the sums are the configured totals
 * whenever total >= n * min.
 */
unsigned keygen_share(unsigned total, unsigned i, unsigned n, unsigned min);

/*
 * Queues a job. The callback is ALWAYS called later from the loop (never from inside keygen_submit), even
 * when the result is immediate (pool hit) or an error (bad spec, no worker available). Returns the job
 * handle (valid until the callback runs or keygen_cancel), or NULL only when out of memory.
 */
struct keygen_job *keygen_submit(struct keygen *kg, const struct keygen_spec *spec, keygen_cb cb, void *arg)
    __attribute__((warn_unused_result));

/*
 * The asking connection went away: the callback will not be called; a key already made is wiped, or kept
 * in the pool when it is an RSA-2048 pair the pool has room for. A key generation running on a worker is
 * aborted unless its key can go to the pool; a derivation or a recovery runs out (it cannot be stopped half
 * way) and its result is wiped. A job still running (unless its key goes to the pool) keeps counting for its
 * owner, against keygen_set_max_per_owner() and in the fair order, until its worker is done with it, so
 * hanging up and asking again does not take more workers. NULL is ignored.
 */
void keygen_cancel(struct keygen_job *job);

/* True when a worker is running the job now (it can no longer be taken back without waste). */
bool keygen_job_running(const struct keygen_job *job);
/* Wipes the private key and frees the result. NULL is ignored. */
void keygen_result_free(struct keygen_result *res);

/*
 * Stops the workers (EOF and SIGTERM, then SIGKILL after a short grace period) and reaps them, wipes the
 * pool and frees every pending job without calling its callback. Blocks for at most about a second.
 */
void keygen_free(struct keygen *kg);

/* Fills st with the counters since keygen_start and the current pool, queue and worker state. */
void keygen_stats(const struct keygen *kg, struct keygen_stats *st);

/*
 * Test hook: copies the pids of the running workers (0 for a slot whose worker is being restarted) into
 * pids[0..n-1]. Returns the number of worker slots.
 */
size_t keygen_worker_pids(const struct keygen *kg, pid_t *pids, size_t n);

#endif
