/* session.c -- handshake MACs, session key derivation, sealed messages and key files (see session.h). */
#include "session.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "npmu.h"

/* put_field -- feed one length-prefixed field to a hash state. */
static void hmac_field(crypto_auth_hmacsha256_state *st, const void *p, size_t len)
{
	uint8_t l[2] = {(uint8_t)len, (uint8_t)(len >> 8)};
	crypto_auth_hmacsha256_update(st, l, 2);
	crypto_auth_hmacsha256_update(st, p, len);
}

static void hash_field(crypto_generichash_state *st, const void *p, size_t len)
{
	uint8_t l[2] = {(uint8_t)len, (uint8_t)(len >> 8)};
	crypto_generichash_update(st, l, 2);
	crypto_generichash_update(st, p, len);
}

/* session_bytes -- the session id as 8 little-endian bytes. */
static void session_bytes(uint64_t s, uint8_t out[8])
{
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(s >> (8 * i));
}

/* npmu__auth_mac -- HMAC-SHA-256(K, label | T). */
void npmu__auth_mac(const uint8_t key[NPMU_KEY_LEN], bool initiator,
		    const struct npmu__transcript *t, uint8_t mac[NPMU_MAC_LEN])
{
	const char *label = initiator ? "npmu-1 initiator" : "npmu-1 responder";
	uint8_t sb[8];
	session_bytes(t->session, sb);
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, key, NPMU_KEY_LEN);
	hmac_field(&st, label, strlen(label));
	hmac_field(&st, t->id_i, strlen(t->id_i));
	hmac_field(&st, t->id_r, strlen(t->id_r));
	hmac_field(&st, t->nonce_i, NPMU_NONCE_LEN);
	hmac_field(&st, t->nonce_r, NPMU_NONCE_LEN);
	hmac_field(&st, sb, 8);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(&st, sizeof(st));
}

/* npmu__auth_check -- constant-time comparison of a received MAC with the expected one. */
bool npmu__auth_check(const uint8_t key[NPMU_KEY_LEN], bool initiator,
		      const struct npmu__transcript *t, const uint8_t mac[NPMU_MAC_LEN])
{
	uint8_t want[NPMU_MAC_LEN];
	npmu__auth_mac(key, initiator, t, want);
	bool ok = sodium_memcmp(want, mac, NPMU_MAC_LEN) == 0;
	sodium_memzero(want, sizeof(want));
	return ok;
}

/* derive -- BLAKE2b-256(key=K, label | T). */
static void derive(const uint8_t key[NPMU_KEY_LEN], const char *label,
		   const struct npmu__transcript *t, uint8_t out[NPMU_KEY_LEN])
{
	uint8_t sb[8];
	session_bytes(t->session, sb);
	crypto_generichash_state st;
	crypto_generichash_init(&st, key, NPMU_KEY_LEN, NPMU_KEY_LEN);
	hash_field(&st, label, strlen(label));
	hash_field(&st, t->id_i, strlen(t->id_i));
	hash_field(&st, t->id_r, strlen(t->id_r));
	hash_field(&st, t->nonce_i, NPMU_NONCE_LEN);
	hash_field(&st, t->nonce_r, NPMU_NONCE_LEN);
	hash_field(&st, sb, 8);
	crypto_generichash_final(&st, out, NPMU_KEY_LEN);
	sodium_memzero(&st, sizeof(st));
}

/* npmu__channel_init -- derive the session keys of one side. */
void npmu__channel_init(struct npmu__channel *ch, const uint8_t key[NPMU_KEY_LEN], bool initiator,
			const struct npmu__transcript *t)
{
	uint8_t i2r[NPMU_KEY_LEN], r2i[NPMU_KEY_LEN];
	derive(key, "npmu-1 i2r", t, i2r);
	derive(key, "npmu-1 r2i", t, r2i);
	memset(ch, 0, sizeof(*ch));
	ch->session = t->session;
	ch->initiator = initiator;
	memcpy(ch->tx_key, initiator ? i2r : r2i, NPMU_KEY_LEN);
	memcpy(ch->rx_key, initiator ? r2i : i2r, NPMU_KEY_LEN);
	sodium_memzero(i2r, sizeof(i2r));
	sodium_memzero(r2i, sizeof(r2i));
}

/* npmu__channel_wipe -- erase the keys. */
void npmu__channel_wipe(struct npmu__channel *ch)
{
	sodium_memzero(ch, sizeof(*ch));
}

/* make_nonce -- 4 bytes of direction (0: to the responder, 1: to the initiator), 8 of sequence. */
static void make_nonce(bool to_responder, uint64_t seq,
		       uint8_t n[crypto_aead_chacha20poly1305_IETF_NPUBBYTES])
{
	memset(n, 0, crypto_aead_chacha20poly1305_IETF_NPUBBYTES);
	n[0] = to_responder ? 0 : 1;
	for (int i = 0; i < 8; i++)
		n[4 + i] = (uint8_t)(seq >> (8 * i));
}

/* npmu__seal -- encrypt a body in place and append its tag. */
void npmu__seal(const struct npmu__channel *ch, bool to_responder, uint64_t seq, const uint8_t *ad,
		size_t ad_len, uint8_t *body, size_t body_len)
{
	uint8_t n[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
	make_nonce(to_responder, seq, n);
	unsigned long long clen;
	crypto_aead_chacha20poly1305_ietf_encrypt(body, &clen, body, body_len, ad, ad_len, NULL, n,
						  ch->tx_key);
}

/* npmu__unseal -- check and decrypt a sealed body in place. */
int npmu__unseal(const struct npmu__channel *ch, bool from_initiator, uint64_t seq,
		 const uint8_t *ad, size_t ad_len, uint8_t *body, size_t len)
{
	if (len < NPMU_TAG_LEN)
		return NPMU_E_AUTH;
	uint8_t n[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
	make_nonce(from_initiator, seq, n);
	unsigned long long mlen;
	if (crypto_aead_chacha20poly1305_ietf_decrypt(body, &mlen, NULL, body, len, ad, ad_len, n,
						      ch->rx_key) != 0)
		return NPMU_E_AUTH;
	return (int)mlen;
}

/* npmu__id_valid -- an identity is 1..NPMU_ID_MAX characters of [A-Za-z0-9._@-]. */
bool npmu__id_valid(const char *id, size_t len)
{
	if (len == 0 || len > NPMU_ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-' || c == '@'))
			return false;
	}
	return true;
}

/* npmu__key_parse -- a key in hex (64 digits, surrounding white space allowed). */
int npmu__key_parse(const char *text, uint8_t key[NPMU_KEY_LEN])
{
	size_t bin_len;
	const char *end;
	while (*text == ' ' || *text == '\t' || *text == '\n' || *text == '\r')
		text++;
	if (sodium_hex2bin(key, NPMU_KEY_LEN, text, strlen(text), NULL, &bin_len, &end) != 0 ||
	    bin_len != NPMU_KEY_LEN)
		return NPMU_E_INVAL;
	while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')
		end++;
	return *end == '\0' ? 0 : NPMU_E_INVAL;
}

/* npmu__key_write -- create a key file (mode 0600) holding a fresh random key in hex. */
int npmu__key_write(const char *path)
{
	uint8_t key[NPMU_KEY_LEN];
	char hex[2 * NPMU_KEY_LEN + 2];
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno == EEXIST ? NPMU_E_EXIST : NPMU_E_IO;
	randombytes_buf(key, sizeof(key));
	sodium_bin2hex(hex, sizeof(hex), key, sizeof(key));
	size_t n = strlen(hex);
	hex[n++] = '\n';
	int rc = write(fd, hex, n) == (ssize_t)n && fsync(fd) == 0 ? 0 : NPMU_E_IO;
	close(fd);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(hex, sizeof(hex));
	if (rc != 0)
		unlink(path);
	return rc;
}

/* npmu__key_problem -- npmu__key_read's codes in words. */
const char *npmu__key_problem(int rc)
{
	switch (rc) {
	case NPMU_E_NOENT: return "no such file";
	case NPMU_E_ACCESS: return "readable by group or others (chmod 600 it)";
	case NPMU_E_INVAL: return "not a key (64 hex digits, as `npmu keygen` writes)";
	case NPMU_E_IO: return "cannot be read";
	default: return npmu_strerror(rc);
	}
}

/* npmu__key_read -- read a key file; refuses files readable by group or others. */
int npmu__key_read(const char *path, uint8_t key[NPMU_KEY_LEN])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? NPMU_E_NOENT : NPMU_E_IO;
	struct stat st;
	char text[256];
	ssize_t n = -1;
	int rc = NPMU_E_IO;
	if (fstat(fd, &st) == 0 && (st.st_mode & 077) != 0) {
		rc = NPMU_E_ACCESS; /* a secret others can read is not a secret */
	} else if ((n = read(fd, text, sizeof(text) - 1)) >= 0) {
		text[n] = '\0';
		rc = npmu__key_parse(text, key);
	}
	close(fd);
	sodium_memzero(text, sizeof(text));
	return rc;
}
