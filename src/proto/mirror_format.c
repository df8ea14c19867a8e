/* mirror_format.c -- encode, check and choose between the mirror records of a region's copies. */
#include "mirror_format.h"

#include <endian.h>
#include <string.h>

#include "codec.h"
#include "csum.h"

/* npmu__mirror_encode -- serialise m into buf; returns its length or NPMU_E_INVAL. */
int npmu__mirror_encode(const struct npmu__mirror *m, uint8_t *buf, size_t buflen)
{
	if (m->ncopies != NPMU_MIRROR_COPIES)
		return NPMU_E_INVAL;
	struct npmu__cursor c;
	npmu__cursor_init(&c, buf, buflen);
	npmu__put_u32(&c, NPMU_MIRROR_MAGIC);
	npmu__put_u16(&c, NPMU_MIRROR_VERSION);
	npmu__put_u8(&c, (uint8_t)m->ncopies);
	npmu__put_u8(&c, 0);
	npmu__put_u64(&c, m->generation);
	npmu__put_u64(&c, m->size);
	for (uint32_t i = 0; i < m->ncopies; i++) {
		if (m->copy[i].state > NPMU__COPY_RESYNCING || !m->copy[i].unit[0])
			return NPMU_E_INVAL;
		npmu__str_put(&c, m->copy[i].unit);
		npmu__put_u8(&c, m->copy[i].state);
		npmu__put_u64(&c, m->copy[i].resync_done);
		npmu__put_bytes(&c, m->copy[i].unit_id, sizeof(m->copy[i].unit_id));
	}
	if (!c.ok)
		return NPMU_E_INVAL;
	uint64_t csum = npmu__csum(buf, c.pos);
	npmu__put_u64(&c, csum);
	return c.ok ? (int)c.pos : NPMU_E_INVAL;
}

/* npmu__mirror_decode -- parse and check one record. */
int npmu__mirror_decode(const uint8_t *buf, size_t len, struct npmu__mirror *m)
{
	memset(m, 0, sizeof(*m));
	if (len < 8 + 16 + 8 || len > NPMU_MIRROR_REC_MAX)
		return NPMU_E_CORRUPT;
	struct npmu__cursor c;
	npmu__cursor_init(&c, (void *)buf, len - 8);
	uint32_t magic = npmu__get_u32(&c);
	uint16_t version = npmu__get_u16(&c);
	uint8_t n = npmu__get_u8(&c);
	uint8_t zero = npmu__get_u8(&c);
	uint64_t csum = 0;
	memcpy(&csum, buf + len - 8, 8);
	csum = le64toh(csum);
	if (magic != NPMU_MIRROR_MAGIC || csum != npmu__csum(buf, len - 8))
		return NPMU_E_CORRUPT;
	if (version != NPMU_MIRROR_VERSION && version != 1)
		return version > NPMU_MIRROR_VERSION ? NPMU_E_VERSION : NPMU_E_CORRUPT;
	if (n != NPMU_MIRROR_COPIES || zero != 0)
		return NPMU_E_CORRUPT;
	m->ncopies = n;
	m->generation = npmu__get_u64(&c);
	m->size = npmu__get_u64(&c);
	for (uint32_t i = 0; i < n; i++) {
		npmu__str_get(&c, m->copy[i].unit, sizeof(m->copy[i].unit));
		m->copy[i].state = npmu__get_u8(&c);
		m->copy[i].resync_done = npmu__get_u64(&c);
		if (version >= 2)
			npmu__get_bytes(&c, m->copy[i].unit_id, sizeof(m->copy[i].unit_id));
		if (!c.ok || !m->copy[i].unit[0] || m->copy[i].state > NPMU__COPY_RESYNCING ||
		    m->copy[i].resync_done > m->size)
			return NPMU_E_CORRUPT;
	}
	if (!c.ok || c.pos != len - 8 || m->generation == 0 || m->size == 0 ||
	    strcmp(m->copy[0].unit, m->copy[1].unit) == 0 || npmu__mirror_in_sync(m) == 0)
		return NPMU_E_CORRUPT;
	return 0;
}

/* npmu__mirror_choose -- the valid record of highest generation among n. */
int npmu__mirror_choose(const uint8_t *const recs[], const size_t lens[], int n,
			struct npmu__mirror *out, struct npmu__mirror_pick *pick)
{
	memset(pick, 0, sizeof(*pick));
	pick->winner = -1;
	struct npmu__mirror m;
	for (int i = 0; i < n; i++) {
		if (lens[i] == 0)
			continue;
		if (npmu__mirror_decode(recs[i], lens[i], &m) != 0) {
			pick->disagree = true;
			continue;
		}
		pick->valid++;
		if (pick->winner < 0 || m.generation > out->generation) {
			if (pick->winner >= 0)
				pick->disagree = true;
			pick->winner = i;
			*out = m;
		} else if (m.generation < out->generation) {
			pick->disagree = true;
		} else if (lens[i] != lens[pick->winner] ||
			   memcmp(recs[i], recs[pick->winner], lens[i]) != 0) {
			pick->conflict = true;
		}
	}
	if (pick->winner < 0 || pick->conflict)
		return NPMU_E_CORRUPT;
	return 0;
}

/* npmu__mirror_in_sync -- how many copies are IN_SYNC. */
int npmu__mirror_in_sync(const struct npmu__mirror *m)
{
	int n = 0;
	for (uint32_t i = 0; i < m->ncopies && i < NPMU_MIRROR_COPIES; i++)
		n += m->copy[i].state == NPMU__COPY_IN_SYNC;
	return n;
}

/* npmu__copy_state_name -- a state for people. */
const char *npmu__copy_state_name(int state)
{
	switch (state) {
	case NPMU__COPY_IN_SYNC: return "in-sync";
	case NPMU__COPY_STALE: return "stale";
	case NPMU__COPY_RESYNCING: return "resyncing";
	default: return "unknown";
	}
}
