/* replies.h -- reply bodies: each encoder (what npmud and pmmd send) next to its decoder (what
 * libnpmu, and a manager of units, reads back). */
#ifndef NPMU_REPLIES_H
#define NPMU_REPLIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "mirror_format.h"
#include "npmu.h"
#include "session.h"
#include "wire.h"

/*
 * Each reply body's layout is written next to its request in wire.h. A reply is as untrusted as
 * a request: every decoder here checks every length against the body, every value against its
 * range, and that the body holds nothing more; anything else is NPMU_E_PROTO (or NPMU_E_NOMEM),
 * and the output is then unspecified. The decoders allocate nothing except where said.
 *
 * Each npmu__reply_X has an encoder npmu__reply_X_put writing the same layout to a cursor (a
 * cursor too small is left not ok: the service answers NPMU_E_INTERNAL); what one encodes, the
 * other decodes to the same values (tests/unit/test_replies.c, tests/fuzz/fuzz_replies.c).
 */

/*
 * npmu__reply_accept -- the initiator's checks on msg[len], received as the reply to its request
 * (type, req_id), which went sealed under ch (NULL: in the clear): the header decodes and is that
 * request's reply, its status is 0 or an NPMU_E_* code, and a sealed request's reply opens
 * under ch (in place) -- or is a plain refusal (session 0, an error status). On 0, *body and
 * *body_len are the plaintext body and *status the status. NPMU_E_PROTO: not the reply;
 * NPMU_E_AUTH: a reply on the channel that cannot be trusted (drop the channel);
 * NPMU_E_VERSION: the peer speaks another version of the protocol.
 */
int npmu__reply_accept(const struct npmu__channel *ch, uint16_t type, uint64_t req_id,
		       uint8_t *msg, size_t len, const uint8_t **body, size_t *body_len, int *status);

/* HELLO: u32 flags, u8 unit_id[8], u64 bytes, u64 free. */
struct npmu__hello_reply {
	uint32_t flags; /* NPMU_UNIT_* */
	uint8_t unit_id[8];
	uint64_t bytes;
	uint64_t free;
};
int npmu__reply_hello(const uint8_t *body, size_t len, struct npmu__hello_reply *out);
void npmu__reply_hello_put(struct npmu__cursor *c, const struct npmu__hello_reply *h);

/* AUTH1 (the responder's half of the handshake): u64 session (not 0), id_r, nonce_r, mac. */
struct npmu__auth1_reply {
	uint64_t session;
	char id_r[NPMU_ID_MAX + 1]; /* a valid identity */
	uint8_t nonce_r[NPMU_NONCE_LEN];
	uint8_t mac[NPMU_MAC_LEN];
};
int npmu__reply_auth1(const uint8_t *body, size_t len, struct npmu__auth1_reply *out);
void npmu__reply_auth1_put(struct npmu__cursor *c, const struct npmu__auth1_reply *a);

/* CREATE, RESIZE, STAT: one region_info. */
int npmu__reply_info(const uint8_t *body, size_t len, struct npmu_region_info *info);
void npmu__reply_info_put(struct npmu__cursor *c, const struct npmu_region_info *info);

/* REVOKE: u32 count. */
int npmu__reply_u32(const uint8_t *body, size_t len, uint32_t *v);
void npmu__reply_u32_put(struct npmu__cursor *c, uint32_t v);

/* FENCE: u64 epoch. */
int npmu__reply_u64(const uint8_t *body, size_t len, uint64_t *v);
void npmu__reply_u64_put(struct npmu__cursor *c, uint64_t v);
/* npmu__reply_members -- a MEMBERS reply asked with NPMU__MEMBERS_STAGING: u64 present, u32
 * flags (wire.h). */
int npmu__reply_members(const uint8_t *body, size_t len, uint64_t *present, uint32_t *flags);

/* LIST: one page. A page moves on (start < next) unless it is the last (next >= total); it
 * holds no more regions than it moved over. */
struct npmu__list_page {
	uint32_t total, next, count;
	struct npmu_region_info *infos; /* count of them, malloc'd (NULL when count is 0) */
	bool last;                      /* nothing after this page */
};
int npmu__reply_list(const uint8_t *body, size_t len, uint32_t start, struct npmu__list_page *out);
/* (encode: the count infos shown of a page that moved on to next) */
void npmu__reply_list_put(struct npmu__cursor *c, uint32_t total, uint32_t next,
			  const struct npmu_region_info *infos, uint32_t count);

/* UNITS: u32 count (<= NPMU_UNITS_REPLY_MAX), then each unit. *list (count + 1 entries,
 * malloc'd, zeroed past the last) belongs to the caller when 0 is returned. */
#define NPMU_UNITS_REPLY_MAX 1024
int npmu__reply_units(const uint8_t *body, size_t len, struct npmu_unit_info **list,
		      size_t *count);
void npmu__reply_units_put(struct npmu__cursor *c, const struct npmu_unit_info *list, size_t count);

/* WHERE: u32 count (1..NPMU_PLACE_COPIES), count x unit. */
int npmu__reply_where(const uint8_t *body, size_t len, struct npmu_region_place *place);
void npmu__reply_where_put(struct npmu__cursor *c, const struct npmu_region_place *place);

/* One copy of a mirrored region in an OPEN or an ATTACH reply. */
struct npmu__copy_grant {
	bool granted;
	uint64_t region_id;
	struct npmu__access_info ai; /* ai.unit: the copy's unit ("" when not granted) */
};

/* OPEN: region_info, access_info, unit; a mirrored region's (region_info.copies 2) goes on with
 * u16 rec_len, rec (a valid mirror record of two copies), and each copy's grant, whose unit
 * must be the record's unit of that copy. access is what was asked for: the reply must grant it. */
struct npmu__open_reply {
	struct npmu_region_info info;
	struct npmu__access_info ai;
	bool mirrored;
	struct npmu__mirror m;                            /* mirrored only */
	struct npmu__copy_grant copy[NPMU_MIRROR_COPIES]; /* mirrored only */
};
int npmu__reply_open(const uint8_t *body, size_t len, uint32_t access,
		     struct npmu__open_reply *out);
/* (encode: a plain region's when !o->mirrored, whatever o->info.copies says) */
void npmu__reply_open_put(struct npmu__cursor *c, const struct npmu__open_reply *o);

/* OPEN answered by a unit to its manager: region_info, access_info, unit and nothing more, even
 * for a copy of a mirrored region (whose region_info says 2 copies). */
int npmu__reply_grant(const uint8_t *body, size_t len, uint32_t access,
		      struct npmu_region_info *info, struct npmu__access_info *ai);
void npmu__reply_grant_put(struct npmu__cursor *c, const struct npmu_region_info *info,
			   const struct npmu__access_info *ai);

/* MIRROR: u16 rec_len, rec (a valid record), u32 reachable (bits 0 and 1 only), u32 flags; an
 * ATTACH reply goes on with u64 region_id, access_info, unit. */
struct npmu__mirror_reply {
	struct npmu__mirror m;
	uint32_t reach;
	uint32_t flags;
	struct npmu__copy_grant attach; /* ATTACH only (granted set) */
};
int npmu__reply_mirror(const uint8_t *body, size_t len, bool attach,
		       struct npmu__mirror_reply *out);
void npmu__reply_mirror_put(struct npmu__cursor *c, const struct npmu__mirror_reply *m,
			    bool attach);

/* MIRROR_REC (a unit to its manager): u16 rec_len (<= NPMU_MIRROR_REC_MAX), rec; the bytes are
 * copied to rec as they are (the manager checks them with the other copy's record). */
int npmu__reply_mirror_rec(const uint8_t *body, size_t len, uint8_t rec[NPMU_MIRROR_REC_MAX],
			   size_t *rec_len);
void npmu__reply_mirror_rec_put(struct npmu__cursor *c, const uint8_t *rec, size_t rec_len);

/* RIGHTS (a unit to its manager): u64 region_id, u32 count (<= NPMU_RIGHTS_REPLY_MAX), count x
 * (u64 key, u32 access (read or read-write), u64 holder). */
struct npmu__rights_reply {
	uint64_t region_id;
	uint32_t count;
	struct {
		uint64_t key;
		uint32_t access;
		uint64_t holder;
	} r[NPMU_RIGHTS_REPLY_MAX];
};
int npmu__reply_rights(const uint8_t *body, size_t len, struct npmu__rights_reply *out);
void npmu__reply_rights_put(struct npmu__cursor *c, const struct npmu__rights_reply *r);

/* HOLDER: u32 ttl_ms (at least 100 ms: a client renews every third of it). */
int npmu__reply_holder(const uint8_t *body, size_t len, uint32_t *ttl_ms);
void npmu__reply_holder_put(struct npmu__cursor *c, uint32_t ttl_ms);

/* LEASE: u64 lease, u64 epoch; a query's goes on with u32 state (0..2), u32 ms left, holder. */
struct npmu__lease_reply {
	uint64_t lease, epoch;
	uint32_t state, left_ms;          /* query only */
	char holder[NPMU_ID_MAX + 1];     /* query only */
};
int npmu__reply_lease(const uint8_t *body, size_t len, bool query, struct npmu__lease_reply *out);
void npmu__reply_lease_put(struct npmu__cursor *c, const struct npmu__lease_reply *l, bool query);

#endif
