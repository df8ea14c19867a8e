/* seeds.c -- write the seed corpus: valid encodings of every message and format the fuzz
 * targets decode, made with the project's own encoders (seeds DIR; DIR/<target>/<name>). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ckpt_format.h"
#include "codec.h"
#include "mirror_format.h"
#include "stage_format.h"
#include "dataset_format.h"
#include "stripe_format.h"
#include "wire.h"

static const char *root;

/* put -- write one seed file root/target/name. */
static void put(const char *target, const char *name, const void *buf, size_t len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", root, target);
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/%s", root, target, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

/* wire -- one request of each type (u16 type + body), and a header. */
static void wire(void)
{
	struct npmu__request r;
	memset(&r, 0, sizeof(r));
	strcpy(r.name, "ckpt.kv");
	strcpy(r.owner, "alice");
	strcpy(r.unit, "198.18.0.1:7411");
	strcpy(r.unit2, "198.18.0.2:7411");
	strcpy(r.id, "alice");
	r.size = 1 << 20;
	r.access = 3;
	r.region_id = 7;
	r.key = 0x1234567890abcdefull;
	r.offset = 4096;
	r.len = 65536;
	r.copies = 2;
	r.lease = 9;
	r.ttl_ms = 300;
	r.op = 1;
	r.copy = 1;
	r.key1 = 0xfeedull;
	r.value = 5;
	r.more = 2; /* a PERSIST of three ranges */
	r.more_ranges[0] = (struct npmu__range){8192, 64};
	r.more_ranges[1] = (struct npmu__range){1 << 20, 4096};
	struct npmu__mirror m = {.generation = 3, .size = 1 << 20, .ncopies = 2};
	strcpy(m.copy[0].unit, r.unit);
	strcpy(m.copy[1].unit, r.unit2);
	int rl = npmu__mirror_encode(&m, r.rec, sizeof(r.rec));
	r.rec_len = rl > 0 ? (uint16_t)rl : 0;
	for (uint16_t t = 1; t <= NPMU_MSG_TYPE_MAX; t++) {
		uint8_t buf[NPMU_WIRE_MAX + 2];
		int n = npmu__req_encode(t, &r, buf + 2, sizeof(buf) - 2);
		if (n < 0)
			continue;
		buf[0] = (uint8_t)t;
		buf[1] = 0;
		char name[32];
		snprintf(name, sizeof(name), "req-%u", t);
		put("wire", name, buf, (size_t)n + 2);
	}
	uint8_t hb[NPMU_WIRE_MAX];
	struct npmu__msg_hdr h = {.type = NPMU_MSG_OPEN, .body_len = 16, .req_id = 42, .session = 0};
	if (npmu__msg_encode_hdr(hb, sizeof(hb), &h) == NPMU_WIRE_HDR_LEN)
		put("wire", "header", hb, NPMU_WIRE_HDR_LEN + 16);
	struct npmu__cursor c;
	npmu__cursor_init(&c, hb + 2, sizeof(hb) - 2);
	struct npmu_region_info info = {.id = 7, .size = 1 << 20, .extents = 2, .rights = 1, .copies = 1};
	strcpy(info.name, "ckpt.kv");
	struct npmu__access_info ai = {.key = 99, .base = 0, .access = 3};
	npmu__info_put(&c, &info);
	npmu__access_put(&c, &ai);
	hb[0] = hb[1] = 0xff; /* no request type: only the reply decoders see it */
	put("wire", "reply-info", hb, c.pos + 2);
}

/* ckpt -- a header, a commit record and an update record (with its lpos/seq/epoch prefix). */
static void ckpt(void)
{
	struct npmu__ckpt_hdr h = {.mode = 1, .epoch = 2, .state_size = 1 << 20, .log_size = 4 << 20,
				   .nslots = 2};
	uint8_t hb[56];
	npmu__ckpt_hdr_encode(&h, hb);
	put("ckpt", "header", hb, sizeof(hb));
	struct npmu__ckpt_rec r = {.seq = 5, .epoch = 2, .length = 4096, .data_csum = 0xabcdef};
	uint8_t rb[NPMU_CKPT_REC];
	npmu__ckpt_rec_encode(&r, rb);
	put("ckpt", "record", rb, sizeof(rb));
	uint8_t payload[40] = "a key-value update, forty bytes long...";
	struct npmu__ckpt_upd u = {.len = sizeof(payload), .seq = 3, .epoch = 1, .offset = 128,
				   .lpos = 512};
	size_t need = (size_t)npmu__ckpt_upd_size(u.len);
	uint8_t ub[17 + 256];
	uint64_t lpos = 512, seq = 3;
	memcpy(ub, &lpos, 8);
	memcpy(ub + 8, &seq, 8);
	ub[16] = 1;
	npmu__ckpt_upd_encode(&u, payload, ub + 17);
	put("ckpt", "update", ub, 17 + need);
	uint8_t skip[17 + 16];
	memcpy(skip, ub, 17);
	npmu__ckpt_skip_encode(512, skip + 17);
	put("ckpt", "skip", skip, sizeof(skip));
}

/* catalog -- a dataset's catalog: two versions, of 3 and 2 parts, the older pinned. */
static void catalog(void)
{
	struct npmu__ds_catalog cat = {.k = 4, .m = 2, .n = 6, .seg_size = 1 << 20, .keep = 2,
				       .pins = 1, .nversions = 2};
	uint64_t len3[3] = {100, 200, 300}, sum3[3] = {1, 2, 3}, len2[2] = {10, 20}, sum2[2] = {4, 5};
	cat.v[0] = (struct npmu__ds_version){.version = 7, .label = 700, .parts = 3,
					     .length = len3, .csum = sum3};
	cat.v[1] = (struct npmu__ds_version){.version = 5, .label = 500, .parts = 2,
					     .pinned = true, .length = len2, .csum = sum2};
	void *buf;
	uint64_t len;
	if (npmu__ds_encode(&cat, &buf, &len) != 0)
		exit(1);
	put("manifest", "catalog", buf, (size_t)len);
	free(buf);
	cat.v[0].staged = true; /* committed with parts still in staging: format 2 (D3) */
	if (npmu__ds_encode(&cat, &buf, &len) != 0)
		exit(1);
	put("manifest", "catalog-staged", buf, (size_t)len);
	free(buf);
}

/* staging -- a staging region's first page: its header and two slot records. */
static void staging(void)
{
	static uint8_t page[NPMU_STAGE_HDR];
	struct npmu__stage_hdr h = {.slots = 2, .durability = 2, .slot_size = 1 << 20, .k = 4,
				    .m = 2, .n = 6, .keep = 2, .seg_size = 1 << 20,
				    .capacity = 1 << 20};
	npmu__stage_hdr_encode(&h, page);
	for (uint32_t s = 0; s < 2; s++) {
		struct npmu__stage_rec r = {.slot = s, .version = 5 + s, .length = 1000 * (s + 1),
					    .length_csum = 99, .staged_ms = 1};
		npmu__stage_rec_encode(&r, page + NPMU_STAGE_REC_OFF + s * NPMU_STAGE_REC_LEN);
	}
	put("manifest", "staging", page, NPMU_STAGE_REC_OFF + 2 * NPMU_STAGE_REC_LEN);
	h.flags = NPMU_STAGE_DATASET_PART; /* a dataset's part (G5) */
	npmu__stage_hdr_encode(&h, page);
	put("manifest", "staging-part", page, NPMU_STAGE_REC_OFF + 2 * NPMU_STAGE_REC_LEN);
}

/* manifest -- a member header, a manifest, a mirror record, a dataset catalog and a staging
 * page. */
static void manifest(void)
{
	struct npmu__stripe_member m = {.index = 1, .n = 6, .keep = 2, .k = 4, .m = 2,
					.seg_size = 1 << 20};
	m.marea = npmu__stripe_marea(6, 4, 2, 3);
	m.dslot = 3 << 20;
	uint8_t mb[64];
	npmu__stripe_member_encode(&m, mb);
	put("manifest", "member", mb, sizeof(mb));
	struct npmu__stripe_manifest mf;
	memset(&mf, 0, sizeof(mf));
	if (npmu__stripe_layout_init(4, 2, 6, 1 << 20, (10 << 20) + 123, &mf.layout) != 0)
		exit(1);
	mf.version = 1;
	mf.length_csum = 77;
	for (uint32_t i = 0; i < 6; i++)
		snprintf(mf.unit[i], sizeof(mf.unit[i]), "198.18.0.%u:7411", i + 1);
	mf.csums = calloc((size_t)mf.layout.ngroups * 6, sizeof(uint64_t));
	size_t len = npmu__stripe_manifest_len(&mf);
	uint8_t *buf = malloc(len);
	if (!mf.csums || !buf || npmu__stripe_manifest_encode(&mf, buf, len) < 0)
		exit(1);
	put("manifest", "manifest", buf, len);
	free(buf);
	free(mf.csums);
	struct npmu__mirror mr = {.generation = 4, .size = 1 << 20, .ncopies = 2};
	strcpy(mr.copy[0].unit, "198.18.0.1:7411");
	strcpy(mr.copy[1].unit, "198.18.0.2:7411");
	mr.copy[1].state = 1;
	uint8_t rb[NPMU_MIRROR_REC_WIRE * 3];
	int n = npmu__mirror_encode(&mr, rb, NPMU_MIRROR_REC_WIRE);
	if (n < 0)
		exit(1);
	put("manifest", "mirror", rb, (size_t)n);
	memcpy(rb + n, rb, (size_t)n);
	memcpy(rb + 2 * n, rb, (size_t)n);
	put("manifest", "mirror-x3", rb, 3 * (size_t)n);
	catalog();
	staging();
}

/* reply -- one replies seed: kind byte, then the body in c (from byte 1 of buf). */
static void reply(const char *name, uint8_t kind, uint8_t *buf, const struct npmu__cursor *c)
{
	buf[0] = kind;
	if (c->ok)
		put("replies", name, buf, c->pos + 1);
}

/* replies -- a valid body of every reply the client decodes, a handshake answer, a sealed reply
 * (made by the target from the seed), and a plain reply message. */
static void replies(void)
{
	uint8_t b[NPMU_WIRE_MAX];
	struct npmu__cursor c;
	struct npmu_region_info info = {.id = 7, .size = 1 << 20, .extents = 2, .rights = 3, .copies = 1};
	strcpy(info.name, "ckpt.kv");
	strcpy(info.owner, "alice");
	struct npmu__access_info ai = {.key = 99, .base = 0, .access = NPMU_ACCESS_READ_WRITE};
	struct npmu__mirror m = {.generation = 3, .size = 1 << 20, .ncopies = 2};
	strcpy(m.copy[0].unit, "198.18.0.1:7411");
	strcpy(m.copy[1].unit, "198.18.0.2:7411");
	uint8_t rec[NPMU_MIRROR_REC_WIRE];
	int rl = npmu__mirror_encode(&m, rec, sizeof(rec));
	if (rl < 0)
		exit(1);

	npmu__cursor_init(&c, b + 1, sizeof(b) - 1);
	npmu__put_u32(&c, 0xd);
	npmu__put_u64(&c, 0x0102030405060708ull);
	npmu__put_u64(&c, 64 << 20);
	npmu__put_u64(&c, 60 << 20);
	reply("hello", 0, b, &c);

	npmu__cursor_init(&c, b + 1, sizeof(b) - 1);
	npmu__put_u64(&c, 77);
	npmu__str_put(&c, "pmm");
	for (int i = 0; i < 64; i++)
		npmu__put_u8(&c, (uint8_t)i);
	reply("auth1", 1, b, &c);

	npmu__cursor_init(&c, b + 1, sizeof(b) - 1);
	npmu__info_put(&c, &info);
	reply("info", 2, b, &c);

	npmu__cursor_init(&c, b + 1, sizeof(b) - 1);
	npmu__put_u64(&c, 5);
	reply("u64", 3, b, &c);

	npmu__cursor_init(&c, b + 1, sizeof(b) - 1);
	npmu__put_u8(&c, 0); /* start */
	npmu__put_u32(&c, 3);
	npmu__put_u32(&c, 2);
	npmu__put_u32(&c, 2);
	npmu__info_put(&c, &info);
	npmu__info_put(&c, &info);
	reply("list", 4, b, &c);

	npmu__cursor_init(&c, b + 1, sizeof(b) - 1);
	npmu__put_u32(&c, 2);
	for (int i = 0; i < 2; i++) {
		npmu__str_put(&c, m.copy[i].unit);
		npmu__put_u32(&c, 1);
		npmu__put_u64(&c, 64 << 20);
		npmu__put_u64(&c, 32 << 20);
		npmu__put_u32(&c, 4);
		npmu__str_put(&c, i ? "rack-b" : "rack-a");
	}
	reply("units", 5, b, &c);

	npmu__cursor_init(&c, b + 1, sizeof(b) - 1);
	npmu__info_put(&c, &info);
	npmu__access_put(&c, &ai);
	npmu__str_put(&c, "");
	reply("open", 7, b, &c);

	struct npmu_region_info minfo = info;
	minfo.copies = 2;
	npmu__cursor_init(&c, b + 1, sizeof(b) - 1);
	npmu__info_put(&c, &minfo);
	npmu__access_put(&c, &ai);
	npmu__str_put(&c, m.copy[0].unit);
	npmu__put_u16(&c, (uint16_t)rl);
	npmu__put_bytes(&c, rec, (size_t)rl);
	for (int i = 0; i < 2; i++) {
		npmu__put_u32(&c, 1);
		npmu__put_u64(&c, 10 + (uint64_t)i);
		npmu__access_put(&c, &ai);
		npmu__str_put(&c, m.copy[i].unit);
	}
	reply("open-mirrored", 7, b, &c);

	npmu__cursor_init(&c, b + 1, sizeof(b) - 1);
	npmu__put_u16(&c, (uint16_t)rl);
	npmu__put_bytes(&c, rec, (size_t)rl);
	npmu__put_u32(&c, 3);
	npmu__put_u32(&c, 0);
	reply("mirror", 8, b, &c);
	npmu__put_u64(&c, 11);
	npmu__access_put(&c, &ai);
	npmu__str_put(&c, m.copy[1].unit);
	reply("mirror-attach", 9, b, &c);

	npmu__cursor_init(&c, b + 1, sizeof(b) - 1);
	npmu__put_u16(&c, (uint16_t)rl);
	npmu__put_bytes(&c, rec, (size_t)rl);
	reply("mirror-rec", 10, b, &c);

	npmu__cursor_init(&c, b + 1, sizeof(b) - 1);
	npmu__put_u64(&c, 0);
	npmu__put_u64(&c, 4);
	npmu__put_u32(&c, 1);
	npmu__put_u32(&c, 250);
	npmu__str_put(&c, "alice");
	reply("lease-query", 11, b, &c);

	npmu__cursor_init(&c, b + 1, sizeof(b) - 1);
	npmu__put_u64(&c, 5);
	npmu__put_u32(&c, 2);
	for (int i = 0; i < 2; i++) {
		npmu__put_u64(&c, 0x1000 + (uint64_t)i);
		npmu__put_u32(&c, i ? NPMU_ACCESS_READ : NPMU_ACCESS_READ_WRITE);
		npmu__put_u64(&c, 0xabc0 + (uint64_t)i);
	}
	reply("rights", 12, b, &c);

	npmu__cursor_init(&c, b + 1, sizeof(b) - 1);
	npmu__put_u32(&c, 3000);
	reply("holder", 13, b, &c);

	npmu__cursor_init(&c, b + 1, sizeof(b) - 1); /* idn, flip (none), session, nonce_r, id */
	npmu__put_u8(&c, 2);
	npmu__put_u16(&c, 0);
	npmu__put_u64(&c, 77);
	for (int i = 0; i < 32; i++)
		npmu__put_u8(&c, (uint8_t)(i * 3));
	npmu__put_bytes(&c, "pmm", 3);
	reply("handshake", 0x40, b, &c);

	npmu__cursor_init(&c, b + 1, sizeof(b) - 1); /* type, flip (none), seq, body */
	npmu__put_u8(&c, NPMU_MSG_OPEN - 1);
	npmu__put_u16(&c, 0);
	npmu__put_u64(&c, 9);
	npmu__info_put(&c, &info);
	reply("sealed", 0x80, b, &c);

	struct npmu__msg_hdr h = {.type = NPMU_MSG_STAT | NPMU_MSG_REPLY, .req_id = 1};
	npmu__cursor_init(&c, b + 1, sizeof(b) - 1);
	npmu__info_put(&c, &info);
	size_t body = c.pos;
	memmove(b + 1 + NPMU_WIRE_HDR_LEN, b + 1, body);
	h.body_len = (uint32_t)body;
	if (npmu__msg_encode_hdr(b + 1, sizeof(b) - 1, &h) != NPMU_WIRE_HDR_LEN)
		exit(1);
	c.pos = NPMU_WIRE_HDR_LEN + body;
	reply("plain-reply", 0xc0 + NPMU_MSG_STAT - 1, b, &c);
}

/* scripts -- the handshake's and the pool's inputs are scripts of operations. */
static void scripts(void)
{
	/* open a session properly, send it sealed requests in and out of order, then junk */
	const uint8_t hs[] = {2, 1, 7,  4, 4, 1, 3, 0, 0,  4, 3, 2, 9, 9,  4, 2, 0, 5,
			      0, 4, 1, 'x', 0, 0,  1, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
			      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  3, 12, 1, 2, 3, 4, 5, 6,
			      7, 8, 9, 10, 11, 12};
	put("handshake", "open-and-seal", hs, sizeof(hs));
	const uint8_t hs2[] = {2, 3, 1, 2, 3, 2, 5, 1, 2, 3, 4, 5, 4, 9, 1, 'h', 'e', 'l', 'l', 'o',
			       '!', '!', '!', 4, 9, 0, 'r', 'e', 'p', 'l', 'a', 'y', '!', '!'};
	put("handshake", "two-sessions", hs2, sizeof(hs2));
	const uint8_t pool_none[] = {0};
	put("pool", "unchanged", pool_none, 0);
	const uint8_t pool_gen[] = {6, 0, 8, 0xff, 0xff, 0, 0, 0, 0, 0, 0}; /* a generation word */
	put("pool", "generation", pool_gen, sizeof(pool_gen));
	const uint8_t pool_meta[] = {0, 1, 16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
				     0, 2, 4, 0, 0, 0, 0};
	put("pool", "metadata", pool_meta, sizeof(pool_meta));
	const char cred[] = "# who may do what\nprincipal alice "
			    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
			    "principal bob file /nonexistent/bob.key\n"
			    "allow alice create,read,write ckpt.*\nallow bob read ckpt.kv\n";
	put("credentials", "file", cred, sizeof(cred) - 1);
	const char key[] = "  0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n";
	put("credentials", "key", key, sizeof(key) - 1);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: seeds DIR\n");
		return 2;
	}
	root = argv[1];
	if (mkdir(root, 0755) != 0 && errno != EEXIST) {
		perror(root);
		return 1;
	}
	wire();
	ckpt();
	manifest();
	replies();
	scripts();
	return 0;
}
