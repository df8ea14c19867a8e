/* codec.h -- bounds-checked little-endian encoding and decoding of fixed-width fields. */
#ifndef NPMU_CODEC_H
#define NPMU_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * A cursor over a byte buffer. Every put/get checks the remaining length first; once a
 * call fails, the cursor is marked bad and all later calls fail too, so a codec checks
 * `ok` once at the end instead of after every field.
 */
struct npmu__cursor {
	uint8_t *p;
	size_t len;
	size_t pos;
	bool ok;
};

static inline void npmu__cursor_init(struct npmu__cursor *c, void *buf, size_t len)
{
	c->p = (uint8_t *)buf;
	c->len = len;
	c->pos = 0;
	c->ok = true;
}

/* npmu__cursor_take -- reserve n bytes; NULL (and the cursor bad) when they are not there. */
static inline uint8_t *npmu__cursor_take(struct npmu__cursor *c, size_t n)
{
	if (!c->ok || n > c->len - c->pos) {
		c->ok = false;
		return NULL;
	}
	uint8_t *r = c->p + c->pos;
	c->pos += n;
	return r;
}

static inline void npmu__put_u8(struct npmu__cursor *c, uint8_t v)
{
	uint8_t *d = npmu__cursor_take(c, 1);
	if (d)
		d[0] = v;
}

static inline void npmu__put_u16(struct npmu__cursor *c, uint16_t v)
{
	uint8_t *d = npmu__cursor_take(c, 2);
	if (d) {
		d[0] = (uint8_t)v;
		d[1] = (uint8_t)(v >> 8);
	}
}

static inline void npmu__put_u32(struct npmu__cursor *c, uint32_t v)
{
	uint8_t *d = npmu__cursor_take(c, 4);
	if (d)
		for (int i = 0; i < 4; i++)
			d[i] = (uint8_t)(v >> (8 * i));
}

static inline void npmu__put_u64(struct npmu__cursor *c, uint64_t v)
{
	uint8_t *d = npmu__cursor_take(c, 8);
	if (d)
		for (int i = 0; i < 8; i++)
			d[i] = (uint8_t)(v >> (8 * i));
}

static inline void npmu__put_bytes(struct npmu__cursor *c, const void *src, size_t n)
{
	uint8_t *d = npmu__cursor_take(c, n);
	if (d && n)
		memcpy(d, src, n);
}

static inline uint8_t npmu__get_u8(struct npmu__cursor *c)
{
	uint8_t *s = npmu__cursor_take(c, 1);
	return s ? s[0] : 0;
}

static inline uint16_t npmu__get_u16(struct npmu__cursor *c)
{
	uint8_t *s = npmu__cursor_take(c, 2);
	return s ? (uint16_t)(s[0] | (s[1] << 8)) : 0;
}

static inline uint32_t npmu__get_u32(struct npmu__cursor *c)
{
	uint8_t *s = npmu__cursor_take(c, 4);
	uint32_t v = 0;
	if (s)
		for (int i = 0; i < 4; i++)
			v |= (uint32_t)s[i] << (8 * i);
	return v;
}

static inline uint64_t npmu__get_u64(struct npmu__cursor *c)
{
	uint8_t *s = npmu__cursor_take(c, 8);
	uint64_t v = 0;
	if (s)
		for (int i = 0; i < 8; i++)
			v |= (uint64_t)s[i] << (8 * i);
	return v;
}

static inline void npmu__get_bytes(struct npmu__cursor *c, void *dst, size_t n)
{
	uint8_t *s = npmu__cursor_take(c, n);
	if (s && n)
		memcpy(dst, s, n);
}

#endif
