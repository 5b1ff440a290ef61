/* v8owner: the table bytecode address -> SFI that V8's code events fill. Entries are found
 * by their key and only when put at or before the time asked about; a move carries the SFI
 * to the new address at the move's time; a full set forgets one entry and counts it. */
#include "unit.h"
#include "v8owner.h"

static void setup(void)
{
    ck_assert(sp_v8owner_init());
    sp_v8owner_clear();
}

START_TEST(test_found_by_address_and_time)
{
    setup();
    ck_assert_uint_eq(sp_v8owner_find(0x10040, 100), 0);
    sp_v8owner_add(0x10040, 0x5001, 50);
    ck_assert_uint_eq(sp_v8owner_find(0x10040, 100), 0x5001);
    ck_assert_uint_eq(sp_v8owner_find(0x10040, 50), 0x5001);
    ck_assert_uint_eq(sp_v8owner_find(0x10040, 49), 0); /* put after the sample */
    ck_assert_uint_eq(sp_v8owner_find(0x10048, 100), 0);
    /* new bytecode at the same address: the newer owner, from its time on */
    sp_v8owner_add(0x10040, 0x6001, 80);
    ck_assert_uint_eq(sp_v8owner_find(0x10040, 100), 0x6001);
    ck_assert_uint_eq(sp_v8owner_find(0x10040, 60), 0);
    /* no address, no SFI: nothing kept */
    sp_v8owner_add(0, 0x7001, 1);
    sp_v8owner_add(0x20040, 0, 1);
    ck_assert_uint_eq(sp_v8owner_find(0x20040, 100), 0);
    uint64_t added, moved, evicted, bytes;
    sp_v8owner_counts(&added, &moved, &evicted, &bytes);
    ck_assert_uint_eq(added, 2);
    ck_assert_uint_gt(bytes, 0);
}
END_TEST

START_TEST(test_moves)
{
    setup();
    sp_v8owner_add(0x10040, 0x5001, 10);
    sp_v8owner_move(0x10040, 0x90040, 70);
    ck_assert_uint_eq(sp_v8owner_find(0x10040, 100), 0);
    ck_assert_uint_eq(sp_v8owner_find(0x90040, 100), 0x5001);
    ck_assert_uint_eq(sp_v8owner_find(0x90040, 69), 0); /* there only since the move */
    sp_v8owner_move(0x30040, 0x40040, 80);              /* bytecode never reported */
    ck_assert_uint_eq(sp_v8owner_find(0x40040, 100), 0);
    uint64_t added, moved, evicted, bytes;
    sp_v8owner_counts(&added, &moved, &evicted, &bytes);
    ck_assert_uint_eq(moved, 1);
}
END_TEST

START_TEST(test_a_full_table_forgets_and_counts)
{
    setup();
    uint64_t added, moved, evicted, bytes;
    sp_v8owner_counts(&added, &moved, &evicted, &bytes);
    uint64_t n = bytes / 24 * 2; /* twice the entries the table holds */
    for (uint64_t i = 0; i < n; i++) sp_v8owner_add(0x100000 + i * 64, 0x1001 + i * 16, 1);
    sp_v8owner_counts(&added, &moved, &evicted, &bytes);
    ck_assert_uint_eq(added, n);
    ck_assert_uint_ge(evicted, n / 2);
    uint64_t found = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t sfi = sp_v8owner_find(0x100000 + i * 64, 2);
        ck_assert(sfi == 0 || sfi == 0x1001 + i * 16); /* never another key's */
        found += sfi != 0;
    }
    /* what is kept fills most of the table */
    ck_assert_msg(found >= n / 2 * 9 / 10, "expected >= %llu entries kept, saw %llu",
                  (unsigned long long)(n / 2 * 9 / 10), (unsigned long long)found);
}
END_TEST

SP_UNIT_SUITE(v8owner)
{
    Suite *s = suite_create("v8owner");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_found_by_address_and_time);
    tcase_add_test(tc, test_moves);
    tcase_add_test(tc, test_a_full_table_forgets_and_counts);
    suite_add_tcase(s, tc);
    return s;
}
