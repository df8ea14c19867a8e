/* test_session.c -- unit tests of the handshake, the sealed channel and key files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "npmu.h"
#include "session.h"
#include "unit.h"

static uint8_t k1[NPMU_KEY_LEN], k2[NPMU_KEY_LEN];

static int setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	randombytes_buf(k1, sizeof(k1));
	randombytes_buf(k2, sizeof(k2));
	return 0;
}

/* transcript -- a fresh transcript between alice and pmm. */
static struct npmu__transcript transcript(void)
{
	struct npmu__transcript t = {.id_i = "alice", .id_r = "pmm", .session = 0x1122334455667788};
	randombytes_buf(t.nonce_i, NPMU_NONCE_LEN);
	randombytes_buf(t.nonce_r, NPMU_NONCE_LEN);
	return t;
}

/* handshake__mutual: each side's MAC checks under the shared key only, and only for its own side
 * and transcript (a reflected MAC, another identity or another nonce fails). */
static void handshake__mutual(void **state)
{
	(void)state;
	struct npmu__transcript t = transcript();
	uint8_t mac_r[NPMU_MAC_LEN], mac_i[NPMU_MAC_LEN];
	npmu__auth_mac(k1, false, &t, mac_r);
	npmu__auth_mac(k1, true, &t, mac_i);
	assert_true(npmu__auth_check(k1, false, &t, mac_r));
	assert_true(npmu__auth_check(k1, true, &t, mac_i));
	assert_memory_not_equal(mac_r, mac_i, NPMU_MAC_LEN);
	assert_false(npmu__auth_check(k1, true, &t, mac_r)); /* reflected */
	assert_false(npmu__auth_check(k2, true, &t, mac_i)); /* wrong key */
	struct npmu__transcript other = t;
	strcpy(other.id_i, "mallory");
	assert_false(npmu__auth_check(k1, true, &other, mac_i));
	other = t;
	other.nonce_r[0] ^= 1; /* replayed proof against a new challenge */
	assert_false(npmu__auth_check(k1, true, &other, mac_i));
	other = t;
	other.session++;
	assert_false(npmu__auth_check(k1, true, &other, mac_i));
	mac_i[31] ^= 0x80;
	assert_false(npmu__auth_check(k1, true, &t, mac_i));
}

/* channel__seal_unseal: both directions decrypt with the peer's keys; replay under another
 * sequence number, altered header or body, the other direction's keys all fail. */
static void channel__seal_unseal(void **state)
{
	(void)state;
	struct npmu__transcript t = transcript();
	struct npmu__channel ci, cr, cwrong;
	npmu__channel_init(&ci, k1, true, &t);
	npmu__channel_init(&cr, k1, false, &t);
	npmu__channel_init(&cwrong, k2, false, &t);
	uint8_t hdr[36] = "header bytes";
	uint8_t msg[64 + NPMU_TAG_LEN], copy[sizeof(msg)];
	memcpy(msg, "open region ckpt read-write", 28);
	npmu__seal(&ci, true, 1, hdr, sizeof(hdr), msg, 28);
	assert_memory_not_equal(msg, "open region", 11);
	memcpy(copy, msg, sizeof(msg));
	assert_int_equal(npmu__unseal(&cr, true, 1, hdr, sizeof(hdr), msg, 28 + NPMU_TAG_LEN), 28);
	assert_string_equal((char *)msg, "open region ckpt read-write");
	memcpy(msg, copy, sizeof(msg));
	assert_int_equal(npmu__unseal(&cr, true, 2, hdr, sizeof(hdr), msg, 28 + NPMU_TAG_LEN),
			 NPMU_E_AUTH); /* replayed as message 2 */
	memcpy(msg, copy, sizeof(msg));
	assert_int_equal(npmu__unseal(&cwrong, true, 1, hdr, sizeof(hdr), msg, 28 + NPMU_TAG_LEN),
			 NPMU_E_AUTH);
	memcpy(msg, copy, sizeof(msg));
	assert_int_equal(npmu__unseal(&cr, false, 1, hdr, sizeof(hdr), msg, 28 + NPMU_TAG_LEN),
			 NPMU_E_AUTH); /* reflected back as the other direction */
	hdr[0] ^= 1;
	memcpy(msg, copy, sizeof(msg));
	assert_int_equal(npmu__unseal(&cr, true, 1, hdr, sizeof(hdr), msg, 28 + NPMU_TAG_LEN),
			 NPMU_E_AUTH);
	hdr[0] ^= 1;
	memcpy(msg, copy, sizeof(msg));
	msg[5] ^= 4;
	assert_int_equal(npmu__unseal(&cr, true, 1, hdr, sizeof(hdr), msg, 28 + NPMU_TAG_LEN),
			 NPMU_E_AUTH);
	assert_int_equal(npmu__unseal(&cr, true, 1, hdr, sizeof(hdr), msg, 3), NPMU_E_AUTH);
	/* the reply direction */
	memcpy(msg, "ok", 3);
	npmu__seal(&cr, false, 1, hdr, sizeof(hdr), msg, 3);
	assert_int_equal(npmu__unseal(&ci, false, 1, hdr, sizeof(hdr), msg, 3 + NPMU_TAG_LEN), 3);
	assert_string_equal((char *)msg, "ok");
}

/* keyfile__write_read: keygen writes mode 0600 once; read refuses loose modes and bad text. */
static void keyfile__write_read(void **state)
{
	(void)state;
	char path[] = "/tmp/npmu-test-key-XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	unlink(path);
	assert_int_equal(npmu__key_write(path), 0);
	assert_int_equal(npmu__key_write(path), NPMU_E_EXIST);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	uint8_t a[NPMU_KEY_LEN], b[NPMU_KEY_LEN];
	assert_int_equal(npmu__key_read(path, a), 0);
	chmod(path, 0644);
	assert_int_equal(npmu__key_read(path, b), NPMU_E_ACCESS);
	unlink(path);
	assert_int_equal(npmu__key_read(path, b), NPMU_E_NOENT);
	assert_int_equal(npmu__key_parse("  00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", b), 0);
	assert_int_equal(b[1], 0x11);
	assert_int_equal(npmu__key_parse("0011", b), NPMU_E_INVAL);
	assert_int_equal(npmu__key_parse("zz112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", b), NPMU_E_INVAL);
	assert_int_equal(npmu__key_parse("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff00", b), NPMU_E_INVAL);
	assert_true(npmu__id_valid("alice@lab", 9));
	assert_false(npmu__id_valid("a b", 3));
	assert_false(npmu__id_valid("", 0));
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* keys__100000_unique_unpredictable: 100,000 access keys as the unit draws them: no duplicate, no
 * sequence (no constant step, no key one more than the previous), every bit set about half the time. */
static void keys__100000_unique_unpredictable(void **state)
{
	(void)state;
	enum { N = 100000 };
	uint64_t *k = malloc(N * sizeof(*k)), *sorted = malloc(N * sizeof(*k));
	unsigned ones[64] = {0};
	int steps_equal = 0, successors = 0;
	for (int i = 0; i < N; i++) {
		k[i] = npmu__key_draw();
		for (int b = 0; b < 64; b++)
			ones[b] += (k[i] >> b) & 1;
		if (i >= 2 && k[i] - k[i - 1] == k[i - 1] - k[i - 2])
			steps_equal++;
		if (i >= 1 && k[i] == k[i - 1] + 1)
			successors++;
	}
	memcpy(sorted, k, N * sizeof(*k));
	qsort(sorted, N, sizeof(*sorted), cmp_u64);
	for (int i = 1; i < N; i++)
		assert_int_not_equal(sorted[i], sorted[i - 1]);
	assert_int_equal(steps_equal, 0);
	assert_int_equal(successors, 0);
	for (int b = 0; b < 64; b++) /* 50% +- 1.5% (about 10 standard deviations) */
		assert_true(ones[b] > N / 2 - 1500 && ones[b] < N / 2 + 1500);
	free(k);
	free(sorted);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(handshake__mutual),
		cmocka_unit_test(channel__seal_unseal),
		cmocka_unit_test(keyfile__write_read),
		cmocka_unit_test(keys__100000_unique_unpredictable),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
