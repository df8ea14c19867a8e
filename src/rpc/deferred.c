/* deferred.c -- the slow thread of a service: a queue of jobs in, served jobs out through an
 * eventfd. */
#include "deferred.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "log.h"

struct npmu__deferred {
	const struct npmu__service_ops *ops;
	unsigned idle_ms;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	unsigned waiting;                        /* queued, not yet served */
	struct npmu__job *queued, **queued_tail; /* in arrival order */
	struct npmu__job *serving;               /* the one the slow thread has, or NULL */
	struct npmu__job *served, **served_tail;
	int fd;                                  /* eventfd: served jobs to take */
};

/* serve -- one job: the owner's answer into the job. */
static void serve(const struct npmu__service_ops *ops, struct npmu__job *job)
{
	struct npmu__cursor reply;
	npmu__cursor_init(&reply, job->body, NPMU_WIRE_MAX - NPMU_WIRE_HDR_LEN - NPMU_TAG_LEN);
	struct npmu__caller c = {.who = job->has_who ? job->who : NULL, .manager = job->manager,
				 .secured = job->secured, .peer = job->peer};
	int rc = ops->handle_later(ops->arg, &c, job->type, &job->req, &reply);
	job->status = rc == 0 && !reply.ok ? NPMU_E_INTERNAL : rc;
	job->body_len = rc == 0 && reply.ok ? reply.pos : 0;
}

/* deadline -- now + ms on the realtime clock, for pthread_cond_timedwait. */
static struct timespec deadline(unsigned ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)ms * 1000000;
	ts.tv_sec += (time_t)(ns / 1000000000);
	ts.tv_nsec = (long)(ns % 1000000000);
	return ts;
}

/* slow_main -- serve queued jobs in order; call idle when none came for idle_ms. */
static void *slow_main(void *arg)
{
	struct npmu__deferred *d = arg;
	pthread_mutex_lock(&d->lock);
	while (!d->stop) {
		if (!d->queued) {
			struct timespec ts = deadline(d->idle_ms);
			int w = pthread_cond_timedwait(&d->cond, &d->lock, &ts);
			if (w == ETIMEDOUT && !d->queued && !d->stop && d->ops->idle) {
				pthread_mutex_unlock(&d->lock);
				d->ops->idle(d->ops->arg);
				pthread_mutex_lock(&d->lock);
			}
			continue;
		}
		struct npmu__job *job = d->queued;
		d->queued = job->next;
		if (!d->queued)
			d->queued_tail = &d->queued;
		d->serving = job;
		pthread_mutex_unlock(&d->lock);
		serve(d->ops, job);
		pthread_mutex_lock(&d->lock);
		d->serving = NULL;
		d->waiting--;
		job->next = NULL;
		*d->served_tail = job;
		d->served_tail = &job->next;
		uint64_t one = 1;
		if (write(d->fd, &one, sizeof(one)) != sizeof(one))
			LOG_ERR("deferred: eventfd: %s", strerror(errno));
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

/* npmu__deferred_new -- start the slow thread. */
int npmu__deferred_new(const struct npmu__service_ops *ops, struct npmu__deferred **out)
{
	struct npmu__deferred *d = calloc(1, sizeof(*d));
	if (!d)
		return NPMU_E_NOMEM;
	d->ops = ops;
	d->idle_ms = ops->idle_ms ? ops->idle_ms : 1000;
	d->queued_tail = &d->queued;
	d->served_tail = &d->served;
	d->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->cond, NULL);
	if (d->fd < 0 || pthread_create(&d->thread, NULL, slow_main, d) != 0) {
		if (d->fd >= 0)
			close(d->fd);
		pthread_mutex_destroy(&d->lock);
		pthread_cond_destroy(&d->cond);
		free(d);
		return NPMU_E_NOMEM;
	}
	*out = d;
	return 0;
}

/* free_list -- free a list of jobs. */
static void free_list(struct npmu__job *j)
{
	while (j) {
		struct npmu__job *next = j->next;
		free(j);
		j = next;
	}
}

/* npmu__deferred_delete -- stop the thread and free every job. */
void npmu__deferred_delete(struct npmu__deferred **dp)
{
	struct npmu__deferred *d = *dp;
	if (!d)
		return;
	pthread_mutex_lock(&d->lock);
	d->stop = true;
	pthread_cond_signal(&d->cond);
	pthread_mutex_unlock(&d->lock);
	pthread_join(d->thread, NULL);
	free_list(d->queued);
	free_list(d->served);
	close(d->fd);
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->cond);
	free(d);
	*dp = NULL;
}

/* npmu__deferred_fd -- readable while served jobs wait. */
int npmu__deferred_fd(const struct npmu__deferred *d)
{
	return d->fd;
}

/* peer_jobs -- (lock held) the jobs of the peer at `to` not yet taken back. */
static unsigned peer_jobs(const struct npmu__deferred *d, fi_addr_t to)
{
	unsigned n = d->serving && d->serving->to == to;
	for (const struct npmu__job *j = d->queued; j; j = j->next)
		n += j->to == to;
	for (const struct npmu__job *j = d->served; j; j = j->next)
		n += j->to == to;
	return n;
}

/* npmu__deferred_submit -- queue a copy of job for the slow thread. */
int npmu__deferred_submit(struct npmu__deferred *d, const struct npmu__job *job)
{
	pthread_mutex_lock(&d->lock);
	bool full = d->waiting >= NPMU_DEFERRED_MAX ||
		    peer_jobs(d, job->to) >= NPMU_DEFERRED_PER_PEER;
	pthread_mutex_unlock(&d->lock);
	if (full)
		return NPMU_E_LIMIT;
	struct npmu__job *j = malloc(sizeof(*j));
	if (!j)
		return NPMU_E_NOMEM;
	memcpy(j, job, offsetof(struct npmu__job, status));
	j->next = NULL;
	pthread_mutex_lock(&d->lock);
	d->waiting++;
	*d->queued_tail = j;
	d->queued_tail = &j->next;
	pthread_cond_signal(&d->cond);
	pthread_mutex_unlock(&d->lock);
	return 0;
}

/* npmu__deferred_take -- a served job, or NULL. */
struct npmu__job *npmu__deferred_take(struct npmu__deferred *d)
{
	uint64_t n;
	pthread_mutex_lock(&d->lock);
	struct npmu__job *j = d->served;
	if (j) {
		d->served = j->next;
		if (!d->served)
			d->served_tail = &d->served;
	} else if (read(d->fd, &n, sizeof(n)) < 0 && errno != EAGAIN) {
		LOG_ERR("deferred: eventfd: %s", strerror(errno));
	}
	pthread_mutex_unlock(&d->lock);
	return j;
}

/* npmu__deferred_waiting -- jobs queued or being served, plus one if served jobs wait. */
unsigned npmu__deferred_waiting(struct npmu__deferred *d)
{
	pthread_mutex_lock(&d->lock);
	unsigned n = d->waiting + (d->served != NULL);
	pthread_mutex_unlock(&d->lock);
	return n;
}
