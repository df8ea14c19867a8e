/* session.h -- mutual challenge-response over a pre-shared key, and the sealed channel it opens. */
#ifndef NPMU_SESSION_H
#define NPMU_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NPMU_KEY_LEN 32   /* a principal's or the cluster's secret key */
#define NPMU_NONCE_LEN 32 /* a handshake nonce */
#define NPMU_MAC_LEN 32   /* HMAC-SHA-256 */
#define NPMU_TAG_LEN 16   /* ChaCha20-Poly1305 tag */
#define NPMU_ID_MAX 63    /* bytes of an identity (principal name, "pmm", "unit") */

/*
 * The handshake (both client -> manager with a principal's key, and manager -> unit with the
 * cluster key). I is the initiator, R the responder, K their shared key; nothing secret
 * crosses the network:
 *
 *   1. I -> R  AUTH1: id_I, nonce_I                      (fresh random 32 bytes)
 *   2. R -> I  reply: session, id_R, nonce_R, mac_R      mac_R = HMAC(K, "npmu-1 responder" | T)
 *   3. I -> R  AUTH3 (on session): mac_I                 mac_I = HMAC(K, "npmu-1 initiator" | T)
 *   4. R -> I  reply: status
 *
 * where T = id_I | id_R | nonce_I | nonce_R | session, each field length-prefixed. Each side
 * checks the other's MAC in constant time. The direction labels make a reflected challenge
 * useless (R's MAC is never a valid I MAC), the nonces make every transcript fresh, and both
 * identities are bound in. Session keys are then derived from K and T:
 *
 *   key_i2r = BLAKE2b-256(key=K, "npmu-1 i2r" | T),  key_r2i = BLAKE2b-256(key=K, "npmu-1 r2i" | T)
 *
 * Sealed messages: the body is encrypted with ChaCha20-Poly1305 (IETF) under the sending
 * direction's key; the plaintext header (which carries the session id and, as req_id, the
 * message's sequence number) is the associated data; the nonce is 4 bytes of direction and the
 * 8-byte sequence. Sequence numbers start at 1 and go up by one per request, and the receiver
 * accepts only the next one: a replayed, reordered or altered message is rejected.
 */

/* The handshake transcript, the same on both sides. */
struct npmu__transcript {
	char id_i[NPMU_ID_MAX + 1];
	char id_r[NPMU_ID_MAX + 1];
	uint8_t nonce_i[NPMU_NONCE_LEN];
	uint8_t nonce_r[NPMU_NONCE_LEN];
	uint64_t session;
};

/* One side of an established (or being established) sealed channel. */
struct npmu__channel {
	uint64_t session;
	bool initiator;
	uint8_t tx_key[NPMU_KEY_LEN];
	uint8_t rx_key[NPMU_KEY_LEN];
	uint64_t tx_seq; /* last sequence sent */
	uint64_t rx_seq; /* last sequence accepted */
};

/* npmu__auth_mac -- the MAC of side `initiator` over the transcript under key. */
void npmu__auth_mac(const uint8_t key[NPMU_KEY_LEN], bool initiator,
		    const struct npmu__transcript *t, uint8_t mac[NPMU_MAC_LEN]);

/* npmu__auth_check -- whether mac is side `initiator`'s MAC (constant-time comparison). */
bool npmu__auth_check(const uint8_t key[NPMU_KEY_LEN], bool initiator,
		      const struct npmu__transcript *t, const uint8_t mac[NPMU_MAC_LEN]);

/* npmu__channel_init -- derive the session keys of one side from key and the transcript. */
void npmu__channel_init(struct npmu__channel *ch, const uint8_t key[NPMU_KEY_LEN], bool initiator,
			const struct npmu__transcript *t);

/* npmu__channel_wipe -- erase the keys. */
void npmu__channel_wipe(struct npmu__channel *ch);

/*
 * npmu__seal -- encrypt body_len bytes at body in place and append the tag (the buffer needs
 * NPMU_TAG_LEN more bytes), authenticating ad_len bytes of header at ad, under sequence seq.
 */
void npmu__seal(const struct npmu__channel *ch, bool to_responder, uint64_t seq, const uint8_t *ad,
		size_t ad_len, uint8_t *body, size_t body_len);

/*
 * npmu__unseal -- check and decrypt a sealed body of len bytes (tag included) in place; returns
 * the plaintext length, or NPMU_E_AUTH if it was altered or sealed under other keys or seq.
 */
int npmu__unseal(const struct npmu__channel *ch, bool from_initiator, uint64_t seq,
		 const uint8_t *ad, size_t ad_len, uint8_t *body, size_t len);

/* npmu__key_write -- create a key file (mode 0600, fails if it exists) with a fresh random key. */
int npmu__key_write(const char *path);

/*
 * npmu__key_parse -- a key in hex (64 digits, surrounding white space allowed). Refuses
 * anything else.
 */
int npmu__key_parse(const char *text, uint8_t key[NPMU_KEY_LEN]);

/* npmu__key_read -- read a key file; refuses files readable by group or others. Returns 0,
 * NPMU_E_NOENT (no such file), NPMU_E_ACCESS (readable by others), NPMU_E_INVAL (not a key) or
 * NPMU_E_IO (cannot be read): npmu__key_problem says which in words. */
int npmu__key_read(const char *path, uint8_t key[NPMU_KEY_LEN]);

/* npmu__key_problem -- what npmu__key_read's code means, for a message naming the file. */
const char *npmu__key_problem(int rc);

/* npmu__id_valid -- an identity is 1..NPMU_ID_MAX characters of [A-Za-z0-9._@-]. */
bool npmu__id_valid(const char *id, size_t len);

#endif
