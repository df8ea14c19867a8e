/* region.c -- the public region calls: open and close rights, write, read and persist (a
 * mirrored region's through mirror.c, a plain one's here). */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "codec.h"
#include "errors.h"
#include "log.h"
#include "spin.h"

/* npmu_region_open -- open a right to region NAME; the unit registers it under a fresh key. */
int npmu_region_open(struct npmu_conn *conn, const char *name, enum npmu_access access,
		     struct npmu_region **region_ptr)
{
	return npmu__region_open_leased(conn, name, access, 0, region_ptr);
}

/* npmu_region_open_copy -- open, reading a mirrored region from the copy asked for. */
int npmu_region_open_copy(struct npmu_conn *conn, const char *name, enum npmu_access access,
			  enum npmu_copy read_from, struct npmu_region **region_ptr)
{
	if (read_from != NPMU_COPY_NEAREST && read_from != NPMU_COPY_PRIMARY &&
	    read_from != NPMU_COPY_MIRROR)
		return NPMU_E_INVAL;
	int rc = npmu__region_open_leased(conn, name, access, 0, region_ptr);
	if (rc == 0)
		(*region_ptr)->read_from = read_from;
	return rc;
}

/* npmu__region_open_leased -- open a right, showing the stream lease held (0: none). */
int npmu__region_open_leased(struct npmu_conn *conn, const char *name, enum npmu_access access,
			     uint64_t lease, struct npmu_region **region_ptr)
{
	if (!conn || !name || !region_ptr ||
	    (access != NPMU_ACCESS_READ && access != NPMU_ACCESS_READ_WRITE))
		return NPMU_E_INVAL;
	struct npmu_region *r = calloc(1, sizeof(*r));
	if (!r)
		return NPMU_E_NOMEM;
	struct npmu__open_reply o;
	pthread_mutex_lock(&conn->rpc.lock);
	int rc = npmu__open_call(conn, name, access, lease, &o);
	if (rc == 0) {
		r->conn = conn;
		r->lease = lease;
		r->info = o.info;
		r->ai = o.ai;
		r->mirrored = o.mirrored;
		if (r->mirrored)
			rc = npmu__mirror_open(r, &o); /* takes the other units' connections too */
	}
	if (rc == 0 && !r->mirrored)
		rc = npmu__conn_unit(conn, r->ai.unit, &r->data);
	pthread_mutex_unlock(&conn->rpc.lock);
	if (rc == 0)
		npmu__conn_hold(conn); /* the right lives while this connection's holder does */
	if (rc == 0 && r->mirrored)
		rc = npmu__mirror_start(r);
	if (rc != 0) {
		if (r->mirrored) /* (set only once the reply decoded and mirror_open ran) */
			npmu__mirror_close(r);
		free(r);
		return rc;
	}
	*region_ptr = r;
	return 0;
}

/* npmu_region_close -- revoke the right at the unit and free the handle (even if the unit is gone). */
int npmu_region_close(struct npmu_region **region_ptr)
{
	if (!region_ptr || !*region_ptr)
		return NPMU_E_INVAL;
	struct npmu_region *r = *region_ptr;
	if (r->mirrored) {
		int rc = npmu__mirror_close(r);
		free(r);
		*region_ptr = NULL;
		return rc;
	}
	struct npmu__request req = {.region_id = r->info.id, .key = r->ai.key};
	const uint8_t *body;
	size_t blen;
	pthread_mutex_lock(&r->data->rpc.lock);
	int rc = npmu__conn_call(r->data, NPMU_MSG_CLOSE, &req, &body, &blen);
	pthread_mutex_unlock(&r->data->rpc.lock);
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
	if (rc == 0 && !region->mirrored && info.id != region->info.id)
		rc = NPMU_E_KEY; /* deleted and created again: this right is gone */
	if (rc == 0 && region->mirrored && info.copies != NPMU_MIRROR_COPIES)
		rc = NPMU_E_KEY;
	if (rc == 0) {
		if (region->mirrored)
			pthread_mutex_lock(&region->mlock);
		region->info.size = info.size;
		region->info.extents = info.extents;
		region->info.rights = info.rights;
		if (region->mirrored)
			pthread_mutex_unlock(&region->mlock);
	}
	return rc;
}

/* check_range -- [off, off+len) lies inside the region. */
static int check_range(const struct npmu_region *r, uint64_t off, uint64_t len)
{
	if (off > r->info.size || len > r->info.size - off)
		return NPMU_E_RANGE;
	return 0;
}

/* check_iov -- every piece of iov is a valid buffer inside the region. */
static int check_iov(const struct npmu_region *r, const struct npmu_iov *iov, int iovcnt)
{
	if (iovcnt < 0 || (iovcnt > 0 && !iov))
		return NPMU_E_INVAL;
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].len > 0 && !iov[i].buf)
			return NPMU_E_INVAL;
		int rc = check_range(r, iov[i].offset, iov[i].len);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* transfer -- a plain region's transfer: its one copy, under the connection's timeout. */
static int transfer(struct npmu_region *r, int write, const struct npmu_iov *iov, int iovcnt)
{
	struct npmu__xfer_target t = {.data = r->data, .ai = &r->ai, .region_id = r->info.id};
	return npmu__transfer(&t, 1, write, iov, iovcnt, 0); /* (its timeout, read under its lock) */
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
	int rc = check_iov(region, iov, iovcnt);
	if (rc != 0)
		return rc;
	if (region->mirrored)
		return npmu__mirror_write(region, iov, iovcnt);
	return transfer(region, 1, iov, iovcnt);
}

/* npmu_region_put -- write the pieces and make them durable at level, in one round trip and one
 * flush where the provider allows. */
int npmu_region_put(struct npmu_region *region, const struct npmu_iov *iov, int iovcnt,
		    enum npmu_durability level)
{
	if (!region || (level != NPMU_PLACED && level != NPMU_PERSISTENT))
		return NPMU_E_INVAL;
	if (region->ai.access != NPMU_ACCESS_READ_WRITE)
		return NPMU_E_ACCESS;
	int rc = check_iov(region, iov, iovcnt);
	if (rc != 0 || iovcnt == 0)
		return rc;
	if (region->mirrored) {
		uint64_t lo = UINT64_MAX, hi = 0;
		for (int i = 0; i < iovcnt; i++) {
			lo = iov[i].offset < lo ? iov[i].offset : lo;
			hi = iov[i].offset + iov[i].len > hi ? iov[i].offset + iov[i].len : hi;
		}
		rc = npmu__mirror_write(region, iov, iovcnt);
		if (rc == 0 && level == NPMU_PERSISTENT && hi > lo)
			rc = npmu__mirror_persist(region, lo, hi - lo);
		return rc;
	}
	if (level == NPMU_PLACED)
		return transfer(region, 1, iov, iovcnt);
	struct npmu__xfer_target t = {.data = region->data, .ai = &region->ai,
				      .region_id = region->info.id};
	return npmu__transfer_persist(&t, iov, iovcnt, 0);
}

/* npmu_region_read -- one-sided read into buf. */
int npmu_region_read(struct npmu_region *region, uint64_t offset, void *buf, size_t len)
{
	if (!region || (len > 0 && !buf))
		return NPMU_E_INVAL;
	int rc = check_range(region, offset, len);
	if (rc != 0)
		return rc;
	if (region->mirrored)
		return npmu__mirror_read(region, offset, buf, len);
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
	if (region->mirrored)
		return npmu__mirror_persist(region, offset, len);
	struct npmu__request req = {
		.region_id = region->info.id, .key = region->ai.key, .offset = offset, .len = len};
	const uint8_t *body;
	size_t blen;
	pthread_mutex_lock(&region->data->rpc.lock);
	rc = npmu__conn_call(region->data, NPMU_MSG_PERSIST, &req, &body, &blen);
	pthread_mutex_unlock(&region->data->rpc.lock);
	return rc;
}
