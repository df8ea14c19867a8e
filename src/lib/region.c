/* region.c -- open rights to regions and the one-sided data path: fi_write, fi_read, persist. */
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "codec.h"
#include "errors.h"
#include "log.h"

#define RMA_WINDOW 16                 /* transfers kept in flight */
#define RMA_CHUNK (4u << 20)          /* largest single transfer posted */

/* npmu_region_open -- open a right to region NAME; the unit registers it under a fresh key. */
int npmu_region_open(struct npmu_conn *conn, const char *name, enum npmu_access access,
		     struct npmu_region **region_ptr)
{
	return npmu__region_open_leased(conn, name, access, 0, region_ptr);
}

/* npmu__region_open_leased -- open a right, showing the stream lease held (0: none). */
int npmu__region_open_leased(struct npmu_conn *conn, const char *name, enum npmu_access access,
			     uint64_t lease, struct npmu_region **region_ptr)
{
	if (!conn || !name || !region_ptr ||
	    (access != NPMU_ACCESS_READ && access != NPMU_ACCESS_READ_WRITE))
		return NPMU_E_INVAL;
	size_t n = strnlen(name, NPMU_NAME_MAX + 1);
	if (!npmu__name_valid(name, n))
		return NPMU_E_NAME;
	struct npmu_region *r = calloc(1, sizeof(*r));
	if (!r)
		return NPMU_E_NOMEM;
	struct npmu__request req = {.access = access, .lease = lease};
	memcpy(req.name, name, n);
	const uint8_t *body;
	size_t blen;
	pthread_mutex_lock(&conn->lock);
	int rc = npmu__rpc(conn, NPMU_MSG_OPEN, &req, &body, &blen);
	if (rc == 0) {
		struct npmu__cursor c;
		npmu__cursor_init(&c, (void *)body, blen);
		npmu__info_get(&c, &r->info);
		npmu__access_get(&c, &r->ai);
		npmu__str_get(&c, r->ai.unit, sizeof(r->ai.unit));
		if (!c.ok || c.pos != blen || r->ai.access != (uint32_t)access)
			rc = NPMU_E_PROTO;
	}
	if (rc == 0)
		rc = npmu__conn_unit(conn, r->ai.unit, &r->data);
	pthread_mutex_unlock(&conn->lock);
	if (rc != 0) {
		free(r);
		return rc;
	}
	r->conn = conn;
	*region_ptr = r;
	return 0;
}

/* npmu_region_close -- revoke the right at the unit and free the handle (even if the unit is gone). */
int npmu_region_close(struct npmu_region **region_ptr)
{
	if (!region_ptr || !*region_ptr)
		return NPMU_E_INVAL;
	struct npmu_region *r = *region_ptr;
	struct npmu__request req = {.region_id = r->info.id, .key = r->ai.key};
	const uint8_t *body;
	size_t blen;
	pthread_mutex_lock(&r->data->lock);
	int rc = npmu__rpc(r->data, NPMU_MSG_CLOSE, &req, &body, &blen);
	pthread_mutex_unlock(&r->data->lock);
	free(r);
	*region_ptr = NULL;
	return rc;
}

/* npmu_region_size -- the region's size as of open or the last refresh. */
uint64_t npmu_region_size(const struct npmu_region *region)
{
	return region ? region->info.size : 0;
}

/* npmu_region_refresh -- learn the region's current size. */
int npmu_region_refresh(struct npmu_region *region)
{
	if (!region)
		return NPMU_E_INVAL;
	struct npmu_region_info info;
	int rc = npmu_region_stat(region->conn, region->info.name, &info);
	if (rc == 0 && info.id != region->info.id)
		rc = NPMU_E_KEY; /* deleted and created again: this right is gone */
	if (rc == 0)
		region->info = info;
	return rc;
}

/* check_range -- [off, off+len) lies inside the region. */
static int check_range(const struct npmu_region *r, uint64_t off, uint64_t len)
{
	if (off > r->info.size || len > r->info.size - off)
		return NPMU_E_RANGE;
	return 0;
}

/* One transfer in flight. */
struct rma_slot {
	int busy;
	struct fid_mr *mr;
};

/* reap -- collect finished transfers; returns the first error seen (0 if none). */
static int reap(struct npmu_conn *conn, struct rma_slot *slots, int *inflight)
{
	struct fi_cq_msg_entry ev[RMA_WINDOW];
	ssize_t n = fi_cq_read(conn->fab->cq, ev, RMA_WINDOW);
	int err = 0;
	struct rma_slot *done[RMA_WINDOW];
	int ndone = 0;
	if (n > 0) {
		for (ssize_t i = 0; i < n; i++)
			done[ndone++] = ev[i].op_context;
	} else if (n == -FI_EAVAIL) {
		struct fi_cq_err_entry e = {0};
		if (fi_cq_readerr(conn->fab->cq, &e, 0) == 1) {
			done[ndone++] = e.op_context;
			err = npmu__from_fi(e.err);
			LOG_DEBUG("transfer failed: %s", fi_strerror(e.err));
		}
	}
	for (int i = 0; i < ndone; i++) {
		struct rma_slot *s = done[i];
		if (s < slots || s >= slots + RMA_WINDOW || !s->busy)
			continue; /* not one of ours */
		if (s->mr)
			fi_close(&s->mr->fid);
		s->mr = NULL;
		s->busy = 0;
		(*inflight)--;
	}
	return err;
}

/* post_one -- post one transfer into a free slot, progressing while the provider is full. */
static int post_one(struct npmu_region *r, int write, uint64_t off, void *buf, size_t len,
		    struct rma_slot *s, struct rma_slot *slots, int *inflight, uint64_t deadline)
{
	struct npmu_conn *conn = r->data;
	struct npmu__fabric *fab = conn->fab;
	void *desc = NULL;
	if (fab->local_mr) {
		uint64_t key;
		int rc = npmu__fabric_mr_reg(fab, buf, len, write ? FI_WRITE : FI_READ, 0, &s->mr,
					     &key);
		if (rc != 0)
			return rc;
		desc = fi_mr_desc(s->mr);
	}
	uint64_t addr = r->ai.base + off;
	s->busy = 1;
	(*inflight)++;
	for (;;) {
		ssize_t rc = write ? fi_write(fab->ep, buf, len, desc, conn->server, addr, r->ai.key, s)
				   : fi_read(fab->ep, buf, len, desc, conn->server, addr, r->ai.key, s);
		if (rc == 0)
			return 0;
		if (rc != -FI_EAGAIN || npmu__now_ms() > deadline) {
			s->busy = 0;
			(*inflight)--;
			if (s->mr)
				fi_close(&s->mr->fid);
			s->mr = NULL;
			return rc == -FI_EAGAIN ? NPMU_E_TIMEDOUT : npmu__from_fi((int)rc);
		}
		int err = reap(conn, slots, inflight);
		if (err)
			return err;
	}
}

/* key_status -- after a failed transfer, ask the unit whether our key is still valid:
 * NPMU_E_KEY (revoked), NPMU_E_ACCESS (valid but read-only) or 0 (valid for writing). */
static int key_status(struct npmu_region *r)
{
	struct npmu__request req = {.region_id = r->info.id, .key = r->ai.key};
	const uint8_t *body;
	size_t blen;
	int saved = r->data->timeout_ms; /* a short question: the transfer already failed */
	r->data->timeout_ms = saved < 1000 ? saved : 1000;
	int rc = npmu__rpc(r->data, NPMU_MSG_PERSIST, &req, &body, &blen);
	r->data->timeout_ms = saved;
	if (rc == NPMU_E_KEY || rc == NPMU_E_NOENT)
		return NPMU_E_KEY;
	return rc == NPMU_E_ACCESS ? NPMU_E_ACCESS : 0;
}

/*
 * transfer -- move every piece of iov, split in chunks with up to RMA_WINDOW in flight, and
 * wait for all. On a transport error the endpoint is closed at once (no completion may land
 * later in this frame) and the unit is asked whether the key died, to report NPMU_E_KEY.
 */
static int transfer(struct npmu_region *r, int write, const struct npmu_iov *iov, int iovcnt)
{
	struct npmu_conn *conn = r->data;
	pthread_mutex_lock(&conn->lock);
	int rc = npmu__conn_ready(conn);
	if (rc != 0) {
		pthread_mutex_unlock(&conn->lock);
		return rc;
	}
	size_t chunk = conn->fab->max_rma < RMA_CHUNK ? conn->fab->max_rma : RMA_CHUNK;
	struct rma_slot slots[RMA_WINDOW] = {{0}};
	int inflight = 0;
	uint64_t deadline = npmu__now_ms() + (uint64_t)conn->timeout_ms;
	for (int i = 0; i < iovcnt && rc == 0; i++) {
		for (size_t done = 0; done < iov[i].len && rc == 0;) {
			size_t len = iov[i].len - done < chunk ? iov[i].len - done : chunk;
			while (inflight == RMA_WINDOW && rc == 0) {
				rc = reap(conn, slots, &inflight);
				if (rc == 0 && npmu__now_ms() > deadline)
					rc = NPMU_E_TIMEDOUT;
			}
			int s = 0;
			while (s < RMA_WINDOW && slots[s].busy)
				s++;
			if (rc == 0)
				rc = post_one(r, write, iov[i].offset + done, (char *)iov[i].buf + done,
					      len, &slots[s], slots, &inflight, deadline);
			done += len;
			deadline = npmu__now_ms() + (uint64_t)conn->timeout_ms;
		}
	}
	while (inflight > 0 && rc == 0) {
		rc = reap(conn, slots, &inflight);
		if (rc == 0 && inflight > 0 && npmu__now_ms() > deadline)
			rc = NPMU_E_TIMEDOUT;
	}
	if (rc != 0) {
		for (int s = 0; s < RMA_WINDOW; s++)
			if (slots[s].mr)
				fi_close(&slots[s].mr->fid);
		npmu__fabric_close(&conn->fab);
		conn->broken = 1;
		int ks = key_status(r);
		if (ks == NPMU_E_KEY || (ks == NPMU_E_ACCESS && write))
			rc = ks;
	}
	pthread_mutex_unlock(&conn->lock);
	return rc;
}

/* npmu_region_write -- one-sided write; returns once the data is placed in the unit's memory. */
int npmu_region_write(struct npmu_region *region, uint64_t offset, const void *buf, size_t len)
{
	struct npmu_iov iov = {offset, buf, len};
	return npmu_region_writev(region, &iov, 1);
}

/* npmu_region_writev -- several writes in flight at once; returns when all are placed. */
int npmu_region_writev(struct npmu_region *region, const struct npmu_iov *iov, int iovcnt)
{
	if (!region || iovcnt < 0 || (iovcnt > 0 && !iov))
		return NPMU_E_INVAL;
	if (region->ai.access != NPMU_ACCESS_READ_WRITE)
		return NPMU_E_ACCESS;
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].len > 0 && !iov[i].buf)
			return NPMU_E_INVAL;
		int rc = check_range(region, iov[i].offset, iov[i].len);
		if (rc != 0)
			return rc;
	}
	return transfer(region, 1, iov, iovcnt);
}

/* npmu_region_read -- one-sided read into buf. */
int npmu_region_read(struct npmu_region *region, uint64_t offset, void *buf, size_t len)
{
	if (!region || (len > 0 && !buf))
		return NPMU_E_INVAL;
	int rc = check_range(region, offset, len);
	if (rc != 0)
		return rc;
	struct npmu_iov iov = {offset, buf, len};
	return transfer(region, 0, &iov, 1);
}

/* npmu_region_persist -- make a range durable at the given level. */
int npmu_region_persist(struct npmu_region *region, uint64_t offset, uint64_t len,
			enum npmu_durability level)
{
	if (!region || (level != NPMU_PLACED && level != NPMU_PERSISTENT))
		return NPMU_E_INVAL;
	if (region->ai.access != NPMU_ACCESS_READ_WRITE)
		return NPMU_E_ACCESS;
	int rc = check_range(region, offset, len);
	if (rc != 0 || level == NPMU_PLACED)
		return rc; /* writes are placed when they complete (delivery complete) */
	struct npmu__request req = {
		.region_id = region->info.id, .key = region->ai.key, .offset = offset, .len = len};
	const uint8_t *body;
	size_t blen;
	pthread_mutex_lock(&region->data->lock);
	rc = npmu__rpc(region->data, NPMU_MSG_PERSIST, &req, &body, &blen);
	pthread_mutex_unlock(&region->data->lock);
	return rc;
}
