/* lease.c -- taking, renewing and giving back a writer's lease (the rules: lease.h). */
#include "lease.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "log.h"

/* npmu__lease_period -- a third of the lease, at most a second (a manager restarted meanwhile
 * takes renewals for its grace: src/manager/leases.h L4). */
int npmu__lease_period(const struct npmu__lease_holder *lh)
{
	return lh->lease_ms / 3 < 1000 ? lh->lease_ms / 3 : 1000;
}

/* npmu__lease_init -- a holder, not yet holding anything. */
void npmu__lease_init(struct npmu__lease_holder *lh, const char *name, uint32_t members,
		      int lease_ms)
{
	memset(lh, 0, sizeof(*lh));
	snprintf(lh->name, sizeof(lh->name), "%s", name);
	lh->members = members;
	lh->lease_ms = lease_ms;
	atomic_init(&lh->proof, 0);
	atomic_init(&lh->fenced, false);
	pthread_mutex_init(&lh->lk, NULL);
	pthread_cond_init(&lh->cv, NULL);
}

/* call -- one LEASE request: acquire (id 0), renew (showing the proof, waiting at most a
 * period) or release. */
static int call(struct npmu__lease_holder *lh, uint64_t id, uint32_t op, uint64_t *new_id,
		uint64_t *epoch)
{
	struct npmu__request req = {.lease = id, .ttl_ms = (uint32_t)lh->lease_ms, .lease_op = op,
				    .members = lh->members};
	snprintf(req.name, sizeof(req.name), "%s", lh->name);
	if (id && op == NPMU__LEASE_TAKE)
		req.key = atomic_load(&lh->proof);
	const uint8_t *body;
	size_t blen;
	pthread_mutex_lock(&lh->conn->rpc.lock);
	int rc = npmu__rpc_call(&lh->conn->rpc, NPMU_MSG_LEASE, &req, &body, &blen,
				  id ? npmu__lease_period(lh) : lh->conn->rpc.timeout_ms);
	if (rc == 0 && op == NPMU__LEASE_TAKE) {
		struct npmu__lease_reply lr;
		rc = npmu__reply_lease(body, blen, false, &lr);
		*new_id = lr.lease;
		*epoch = lr.epoch;
	}
	pthread_mutex_unlock(&lh->conn->rpc.lock);
	return rc;
}

/* renew_main -- renew every period until the manager says the lease was taken (lease.h). */
static void *renew_main(void *arg)
{
	struct npmu__lease_holder *lh = arg;
	int period = npmu__lease_period(lh);
	bool silent = false;
	pthread_mutex_lock(&lh->lk);
	while (!lh->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)period * 1000000;
		ts.tv_sec += (time_t)(ns / 1000000000);
		ts.tv_nsec = (long)(ns % 1000000000);
		pthread_cond_timedwait(&lh->cv, &lh->lk, &ts);
		if (lh->stop)
			break;
		pthread_mutex_unlock(&lh->lk);
		uint64_t id, epoch;
		int rc = call(lh, lh->id, NPMU__LEASE_TAKE, &id, &epoch);
		pthread_mutex_lock(&lh->lk);
		if (rc == NPMU_E_FENCED) {
			if (!atomic_exchange(&lh->fenced, true))
				LOG_WARN("%s %s: lease lost (another writer took it over): this writer is "
					 "fenced", lh->members ? "set" : "stream", lh->name);
			break;
		}
		if (rc != 0 && !silent)
			LOG_WARN("%s %s: lease renewal: %s; still writing, renewing every %d ms",
				 lh->members ? "set" : "stream", lh->name, npmu_strerror(rc), period);
		else if (rc == 0 && silent)
			LOG_INFO("%s %s: lease renewed again", lh->members ? "set" : "stream", lh->name);
		silent = rc != 0;
	}
	pthread_mutex_unlock(&lh->lk);
	return NULL;
}

/* stop_renewing -- stop the renewal thread, if it runs. */
static void stop_renewing(struct npmu__lease_holder *lh)
{
	if (!lh->renewing)
		return;
	pthread_mutex_lock(&lh->lk);
	lh->stop = true;
	pthread_cond_signal(&lh->cv);
	pthread_mutex_unlock(&lh->lk);
	pthread_join(lh->renewer, NULL);
	lh->renewing = false;
}

/* npmu__lease_take -- acquire (asking again while held or the manager is silent), then renew. */
int npmu__lease_take(struct npmu__lease_holder *lh, struct npmu_conn *conn, int wait_ms)
{
	stop_renewing(lh);
	if (!lh->conn) {
		int rc = npmu__conn_clone(conn, &lh->conn);
		if (rc != 0)
			return rc;
	}
	uint64_t deadline = npmu__now_ms() + (uint64_t)(wait_ms > 0 ? wait_ms : 0);
	unsigned backoff_ms = 10;
	int rc;
	while ((rc = call(lh, 0, NPMU__LEASE_TAKE, &lh->id, &lh->epoch)) == NPMU_E_LEASE ||
	       rc == NPMU_E_MANAGER) {
		if (npmu__now_ms() >= deadline)
			return rc;
		usleep(backoff_ms * 1000); /* less often while it stays so */
		backoff_ms = backoff_ms * 2 > 250 ? 250 : backoff_ms * 2;
	}
	if (rc != 0)
		return rc;
	atomic_store(&lh->fenced, false);
	atomic_store(&lh->proof, 0);
	lh->stop = false;
	if (pthread_create(&lh->renewer, NULL, renew_main, lh) != 0)
		return NPMU_E_NOMEM;
	lh->renewing = true;
	return 0;
}

/* npmu__lease_release -- stop renewing and give the lease back (unless it was lost). */
void npmu__lease_release(struct npmu__lease_holder *lh)
{
	stop_renewing(lh);
	if (lh->conn && lh->id && !atomic_load(&lh->fenced)) {
		uint64_t id, epoch;
		(void)call(lh, lh->id, NPMU__LEASE_RELEASE, &id, &epoch);
	}
	lh->id = 0;
}

/* npmu__lease_fini -- stop renewing and free the connection and the lock. */
void npmu__lease_fini(struct npmu__lease_holder *lh)
{
	stop_renewing(lh);
	if (lh->conn)
		npmu_conn_delete(&lh->conn);
	pthread_mutex_destroy(&lh->lk);
	pthread_cond_destroy(&lh->cv);
}
