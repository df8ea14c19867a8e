/* wire.h -- the control protocol between clients and a unit's manager: messages and their codecs. */
#ifndef NPMU_WIRE_H
#define NPMU_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "npmu.h"
#include "session.h"

/*
 * Control messages travel as libfabric messages (fi_send/fi_recv) on the same RDM endpoint
 * that carries the one-sided data path. Every message is at most NPMU_WIRE_MAX bytes:
 *
 *   header (36 bytes, all little-endian)
 *     u32 magic      "NPMW" (0x574d504e)
 *     u16 version    NPMU_WIRE_VERSION; a different one is answered with NPMU_E_VERSION
 *     u16 type       enum npmu__msg_type; replies have NPMU_MSG_REPLY set
 *     u32 body_len   bytes after the header and the return address
 *     i32 status     replies: 0 or an NPMU_E_* code; requests: 0
 *     u64 req_id     chosen by the client, echoed in the reply
 *     u64 session    reserved for authenticated sessions; 0 for now
 *     u16 addr_len   requests: length of the sender's fabric address (1..NPMU_WIRE_ADDR_MAX);
 *                    replies: 0
 *     u16 reserved   0
 *   addr[addr_len]   the address replies go to (the requester's fi_getname())
 *   body[body_len]   the message's fields, described next to each struct below
 *
 * Strings are u8 length + bytes (no terminator). A decoder checks every length against what
 * is left in the buffer, and checks the total against the received length: a message with
 * trailing bytes, a short field or an out-of-range value is rejected with NPMU_E_PROTO.
 */

#define NPMU_WIRE_MAGIC 0x574d504eu
#define NPMU_WIRE_VERSION 4 /* 4: PERSIST carries up to NPMU_PERSIST_RANGES ranges; MEMBERS */
#define NPMU_WIRE_HDR_LEN 36
#define NPMU_WIRE_MAX 4096
#define NPMU_WIRE_ADDR_MAX 256
#define NPMU_MSG_REPLY 0x8000

enum npmu__msg_type {
	NPMU_MSG_HELLO = 1,   /* body: empty; reply: u32 flags, u64 unit_id, u64 bytes, u64 free */
	NPMU_MSG_CREATE = 2,  /* body: name, u64 size, owner, unit, u32 copies (1, or 2: mirrored),
			       * unit2, u16 rec_len, rec[rec_len]; reply: region_info. owner and
			       * rec (a mirror record, see mirror_format.h) are honoured only
			       * from a manager; unit and unit2 ("host:port", may be empty) ask a
			       * manager of several units for the units of copy 0 and copy 1 */
	NPMU_MSG_OPEN = 3,    /* body: name, u32 access, u64 lease (0, or the lease the writer
			       * holds: while a stream's lease is held, only its holder opens it
			       * read-write; a set's members are opened with the set's lease),
			       * u64 holder (the client the right is for: see NPMU_MSG_HOLDER;
			       * 0: none); reply: region_info, access_info, unit
			       * (the address of the unit to use for data; empty: this one); a
			       * mirrored region's reply goes on with u16 rec_len, rec, then for
			       * each copy: u32 granted, u64 region_id, access_info, unit. On a
			       * mirrored region a read-write open closes every earlier
			       * read-write right (one writer keeps the copies identical) */
	NPMU_MSG_CLOSE = 4,   /* body: u64 region_id, u64 key; reply: empty. Sent to the unit by
			       * the key's holder: the key is the proof */
	NPMU_MSG_DELETE = 5,  /* body: name; reply: empty */
	NPMU_MSG_RESIZE = 6,  /* body: name, u64 size; reply: region_info */
	NPMU_MSG_STAT = 7,    /* body: name; reply: region_info */
	NPMU_MSG_LIST = 8,    /* body: u32 start; reply: u32 total, u32 next, u32 count, count x
			       * region_info (those the requester may see among [start, next)) */
	NPMU_MSG_PERSIST = 9, /* body: u64 region_id, u64 key, u64 offset, u64 len, u32 more (<
			       * NPMU_PERSIST_RANGES), more x (u64 offset, u64 len); reply:
			       * empty. Every range is durable when the reply is sent; a unit
			       * flushes the ranges of the PERSISTs it has at once together
			       * (group commit). A client may send it behind its fi_writes to
			       * the ranges without waiting for their completions where the
			       * provider orders sends after writes (FI_ORDER_SAW) */
	NPMU_MSG_AUTH1 = 10,  /* body: id, nonce[32]; reply: u64 session, id, nonce[32], mac[32] */
	NPMU_MSG_AUTH3 = 11,  /* on the session: body: mac[32]; reply: empty */
	NPMU_MSG_UNITS = 12,  /* body: empty; reply: u32 count, count x (unit, u32 up, u64 bytes,
			       * u64 free, u32 regions, domain (may be empty)) */
	NPMU_MSG_REVOKE = 13, /* body: name; reply: u32 rights revoked (every right to the region) */
	NPMU_MSG_LEASE = 14,  /* body: name (a stream; or a striped set's name), u64 lease (0:
			       * acquire), u32 ttl_ms, u32 op (enum npmu__lease_op), u64 key (a
			       * renewal: the writer's live read-write key of the region, or of
			       * a set's member 0, its proof to a manager that does not know the
			       * lease: src/manager/leases.h L4; else 0), u32 members (0: a
			       * stream; n: the striped set NAME of n members NAME.s0..); reply:
			       * u64 lease, u64 epoch; query reply: u64 0, u64 epoch, u32 state
			       * (0 free, 1 held, 2 lapsed), u32 ms left, holder (the principal,
			       * "" without authentication) */
	NPMU_MSG_FENCE = 15,  /* manager to unit: body: name, u32 op (enum npmu__fence_op), u64
			       * epoch (a stream's fence: raise to this if it is more than one past
			       * the current);
			       * reply: u64 epoch (0 when not raised) */
	NPMU_MSG_MIRROR_REC = 16, /* manager to unit: body: name, u32 op (enum npmu__rec_op), u64 key (set:
				   * 0, or a key that must be a live read-write right to the
				   * region), u16 rec_len, rec; reply: u16 rec_len, rec (after a
				   * set: the record stored). A set must raise the generation */
	NPMU_MSG_MIRROR = 17, /* client to manager, on a mirrored region: body: name, u32 op (enum
			       * npmu__mirror_op), u32 copy, u64 key0, u64 key1 (the requester's
			       * read-write keys on copies 0 and 1, 0 where it has none), u64
			       * value (RESYNC progress: bytes done), u64 holder (ATTACH: the
			       * client the new right is for); reply: u16 rec_len, rec,
			       * u32 reachable (bit i: copy i answered), u32 flags (1: the units'
			       * records disagreed and the newer was written back), and for
			       * ATTACH: u64 region_id, access_info, unit */
	NPMU_MSG_HOLDER = 18, /* client to manager: body: u64 holder (not 0); reply: u32 ttl_ms.
			       * The connection's rights are kept for it while it renews this
			       * every third of ttl_ms (src/manager/holders.h) */
	NPMU_MSG_RIGHTS = 19, /* manager to unit: body: name; reply: u64 region_id, u32 count (<=
			       * NPMU_RIGHTS_REPLY_MAX), count x (u64 key, u32 access, u64 holder) */
	NPMU_MSG_MEMBERS = 20, /* client to manager: body: name (a striped set's, at most
				* NPMU_NAME_MAX - 4 long: room for ".s63"); reply: u64 present (bit
				* i: region NAME.sI exists on a unit that answered and the requester
				* may see it). One request finds a set's members (src/lib/stripe.c);
				* NPMU_E_ACCESS when members exist but the requester may see none.
				* Asked only of a manager whose HELLO sets NPMU_UNIT_MEMBERS.
				* Body + u32 op = NPMU__MEMBERS_STAGING (only to a manager whose HELLO
				* sets NPMU_UNIT_STAGING): reply u64 present, u32 flags (bit 0: the
				* set's staging region NAME.stg exists and the requester may see it),
				* so a restore looks for staged versions without a failed OPEN */
	NPMU_MSG_WHERE = 21,  /* client to manager: body: name; reply: u32 count (1, or 2 for a
			       * mirrored region), count x unit (the units holding the region's
			       * copies, "host:port"). Asked only of a manager whose HELLO sets
			       * NPMU_UNIT_WHERE */
	NPMU_MSG_TYPE_MAX = 21,
};

/* What a LEASE request asks (its op field). */
enum npmu__lease_op {
	NPMU__LEASE_TAKE = 0,    /* lease 0: acquire (fencing earlier writers); else renew */
	NPMU__LEASE_RELEASE = 1, /* give it up */
	NPMU__LEASE_QUERY = 2,   /* its state, for a reader */
};

/* What a FENCE request asks (its op field). */
enum npmu__fence_op {
	NPMU__FENCE_WRITERS = 0, /* close the region's read-write rights */
	NPMU__FENCE_STREAM = 1,  /* a stream's fence: close them and raise its epoch */
};

/* What a MIRROR_REC request asks (its op field). */
enum npmu__rec_op {
	NPMU__REC_GET = 0, /* the record stored */
	NPMU__REC_SET = 1, /* store this one (of a higher generation) */
};

#define NPMU_HOLDER_TTL_MS 3000u /* a holder is dead after this long without renewal */
#define NPMU_RIGHTS_REPLY_MAX 64 /* = NPMU_RIGHTS_MAX (pool_format.h) */
/* A unit's share of one region's rights (its OPEN answers NPMU_E_LIMIT past either): one
 * client, however careless or hostile, leaves room for the others, and readers leave room for a
 * writer (a primary that restarts, a backup that takes over). */
#define NPMU_RIGHTS_PER_HOLDER 16 /* rights one client (holder id) holds to one region */
#define NPMU_RIGHTS_READ_MAX 56   /* read rights to one region: the last 8 are for writers */
#define NPMU_SET_MEMBERS_MAX 64  /* = NPMU_STRIPE_UNITS_MAX (stripe_format.h): a MEMBERS
				  * reply's u64 has a bit for each */

/* What a writer asks of the manager about a mirrored region (NPMU_MSG_MIRROR). */
enum npmu__mirror_op {
	NPMU__MIRROR_GET = 0,      /* the record in force, and which copies answer */
	NPMU__MIRROR_DEGRADE = 1,  /* `copy` missed a write: record it stale on the other copies */
	NPMU__MIRROR_ATTACH = 2,   /* a read-write right on `copy` (which came back), to resync it */
	NPMU__MIRROR_RESYNC = 3,   /* `copy` is being resynced; value: bytes done so far */
	NPMU__MIRROR_SYNCED = 4,   /* `copy` is resynced: record it in sync */
	NPMU__MIRROR_OP_MAX = 4,
};

/* Unit flags in the HELLO reply. */
#define NPMU_UNIT_VIRT_ADDR 0x1 /* RMA addresses are virtual: add access_info.base to offsets */
#define NPMU_UNIT_AUTH 0x2      /* manager requests must come sealed on an authenticated session */
#define NPMU_UNIT_MANAGER 0x4   /* a manager answers (region requests served) */
#define NPMU_UNIT_DATA 0x8      /* a unit answers (one-sided access, persist, close) */
#define NPMU_UNIT_MEMBERS 0x10  /* the manager answers MEMBERS (older ones drop it unanswered) */
#define NPMU_UNIT_WHERE 0x20    /* the manager answers WHERE (likewise) */
#define NPMU_UNIT_STAGING 0x40  /* the manager answers MEMBERS with NPMU__MEMBERS_STAGING */
#define NPMU__MEMBERS_STAGING 1u /* MEMBERS op: also say whether NAME.stg exists */
#define NPMU__MEMBERS_HAS_STAGING 1u /* MEMBERS flags: NAME.stg exists */
#define NPMU_ADDR_STR_MAX 127   /* "host:port" of a unit */

/*
 * Sessions (see session.h for the handshake and the sealing): a request with a non-zero
 * session field is sealed: its body is ChaCha20-Poly1305 ciphertext and tag, its req_id is its
 * sequence number on the session, and the header and return address are the associated data.
 * The reply to a sealed request is sealed the same way in the other direction, unless the
 * request was refused before it could be opened: then it is a plain reply with session 0 and
 * an error status. AUTH1 and AUTH3 travel in the clear (AUTH3 names its session).
 */

/* region_info on the wire: name, owner (string, may be empty), u64 id, u64 size, u32 extents,
 * u32 rights, u32 copies (1, or 2 for a copy of a mirrored region). */
/* access_info on the wire: u64 key, u64 base, u32 access, u32 reserved. */
struct npmu__access_info {
	uint64_t key;    /* the registration's remote key */
	uint64_t base;   /* RMA address of offset 0 (0 unless the unit uses virtual addresses) */
	uint32_t access; /* enum npmu_access */
	char unit[NPMU_ADDR_STR_MAX + 1]; /* where to send data operations; "" for this endpoint */
};

/* A decoded message header. */
struct npmu__msg_hdr {
	uint16_t type;
	int32_t status;
	uint32_t body_len;
	uint64_t req_id;
	uint64_t session;
	uint16_t addr_len;
	const uint8_t *addr; /* points into the decoded buffer */
	const uint8_t *body; /* points into the decoded buffer */
};

#define NPMU_MIRROR_REC_WIRE 336 /* = NPMU_MIRROR_REC_MAX (mirror_format.h) */
#define NPMU_PERSIST_RANGES 8    /* ranges one PERSIST may name */

/* A byte range of a region (PERSIST). */
struct npmu__range {
	uint64_t offset;
	uint64_t len;
};

/* A decoded request body: the union of every request's fields. */
struct npmu__request {
	char name[NPMU_NAME_MAX + 1];
	uint64_t size;
	uint32_t access;
	uint64_t region_id;
	uint64_t key;
	uint64_t offset;
	uint64_t len;
	uint32_t start;
	char id[NPMU_ID_MAX + 1];
	uint8_t nonce[NPMU_NONCE_LEN];
	uint8_t mac[NPMU_MAC_LEN];
	char owner[NPMU_ID_MAX + 1];
	char unit[NPMU_ADDR_STR_MAX + 1];
	uint64_t lease;
	uint32_t ttl_ms;
	uint32_t lease_op;                   /* LEASE: enum npmu__lease_op */
	uint64_t holder;                     /* OPEN, MIRROR, HOLDER */
	uint32_t members;                    /* LEASE */
	uint64_t epoch;                      /* FENCE: the least epoch to raise to */
	uint32_t copies;                     /* CREATE */
	char unit2[NPMU_ADDR_STR_MAX + 1];   /* CREATE: where copy 1 goes */
	uint32_t op;                         /* MEMBERS: 0 or NPMU__MEMBERS_STAGING;
					      * FENCE: enum npmu__fence_op; MIRROR_REC: enum
					      * npmu__rec_op; MIRROR: enum npmu__mirror_op */
	uint32_t copy;                       /* MIRROR */
	uint64_t key1;                       /* MIRROR: key on copy 1 (key: on copy 0) */
	uint64_t value;                      /* MIRROR */
	uint16_t rec_len;                    /* CREATE, MIRROR_REC */
	uint8_t rec[NPMU_MIRROR_REC_WIRE];
	uint32_t more;                       /* PERSIST: ranges after (offset, len) */
	struct npmu__range more_ranges[NPMU_PERSIST_RANGES - 1];
	/* not on the wire: the requester's fabric address, set by the service that received it
	 * (a holder's address: src/manager/holders.h); peer_len 0 when longer than peer */
	uint8_t peer[32];
	uint8_t peer_len;
	/* not on the wire: a CREATE by the holder of the lease of the striped set the region is a
	 * member of (a rebuild re-placing a member lost with its unit, src/manager/pmm.c): a
	 * region of that name on units that are away is forgotten (src/pmmd/units.h) */
	bool replace_away;
};

/* npmu__name_valid -- whether name is 1..NPMU_NAME_MAX characters of [A-Za-z0-9._-]. */
bool npmu__name_valid(const char *name, size_t len);

/*
 * npmu__msg_encode_hdr -- write a header (and, for requests, the return address) into buf;
 * returns the header size or a negative code. The body follows at the returned offset.
 */
int npmu__msg_encode_hdr(void *buf, size_t buflen, const struct npmu__msg_hdr *hdr);

/*
 * npmu__msg_decode_hdr -- validate and decode the header of a received message of len bytes.
 * Checks magic, version, type, lengths and that header + address + body == len.
 */
int npmu__msg_decode_hdr(const void *buf, size_t len, struct npmu__msg_hdr *hdr);

/* npmu__req_encode -- encode the body of request `type` from req into buf; returns its length. */
int npmu__req_encode(uint16_t type, const struct npmu__request *req, void *buf, size_t buflen);

/* npmu__req_decode -- decode and validate the body of request `type`. */
int npmu__req_decode(uint16_t type, const void *body, size_t len, struct npmu__request *req);

/* npmu__info_encode -- append a region_info to a cursor-encoded reply. */
struct npmu__cursor;
void npmu__info_put(struct npmu__cursor *c, const struct npmu_region_info *info);

/* npmu__info_get -- read a region_info; leaves the cursor bad on malformed input. */
void npmu__info_get(struct npmu__cursor *c, struct npmu_region_info *info);

/* npmu__access_put / npmu__access_get -- encode or decode an access_info. */
void npmu__access_put(struct npmu__cursor *c, const struct npmu__access_info *ai);
void npmu__access_get(struct npmu__cursor *c, struct npmu__access_info *ai);

/* npmu__str_put / npmu__str_get -- a u8-length string (get leaves the cursor bad if longer
 * than max or not printable). */
void npmu__str_put(struct npmu__cursor *c, const char *s);
void npmu__str_get(struct npmu__cursor *c, char *out, size_t max);

/* npmu__msg_type_name -- the name of a message type, for logs. */
const char *npmu__msg_type_name(uint16_t type);

#endif
