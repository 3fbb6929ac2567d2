/* fs/inodes: small inode numbers, slots used again with a new generation. */
#include "check.h"

#include "inodes.h"

TEST(numbers_are_small_and_name_their_object_with_its_parts)
{
        struct inodes *t;
        CHECK_INTEQ(inodes_new(&t, NULL), 0);
        struct inode a = { .kind = INODE_CONTAINER }, b = { .kind = INODE_NAMESPACE };
        CHECK_INTEQ(inodes_add(t, &a, NULL), 0);
        CHECK_INTEQ(inodes_add(t, &b, NULL), 0);
        CHECK(inode_number(&a, 0) > 1);         /* 1 is the root's */
        CHECK(inode_number(&b, 0) < 1000);
        CHECK(inodes_get(t, inode_number(&a, 0)) == &a);
        CHECK(inodes_get(t, inode_number(&a, 5)) == &a);
        CHECK_UINTEQ(inode_part(inode_number(&a, 5)), 5);
        CHECK(inodes_get(t, inode_number(&b, 0)) == &b);
        CHECK(inodes_get(t, 1ULL << 40) == NULL);
        inodes_remove(t, &a);
        inodes_remove(t, &b);
        inodes_free(t);
}

TEST(a_slot_given_back_is_used_again_with_a_new_generation)
{
        struct inodes *t;
        CHECK_INTEQ(inodes_new(&t, NULL), 0);
        struct inode a = { .kind = INODE_CONTAINER };
        CHECK_INTEQ(inodes_add(t, &a, NULL), 0);
        uint64_t ino = inode_number(&a, 0);
        uint32_t gen = a.generation;
        inodes_remove(t, &a);
        CHECK(inodes_get(t, ino) == NULL);
        struct inode b = { .kind = INODE_PASSTHROUGH };
        CHECK_INTEQ(inodes_add(t, &b, NULL), 0);
        CHECK_UINTEQ(inode_number(&b, 0), ino);
        CHECK(b.generation != gen);
        CHECK(inodes_get(t, ino) == &b);
        inodes_remove(t, &b);
        inodes_free(t);
}

TEST(a_hundred_thousand_objects_have_numbers_below_ten_million)
{
        struct inodes *t;
        CHECK_INTEQ(inodes_new(&t, NULL), 0);
        static struct inode objs[100000];
        for (size_t i = 0; i < 100000; i++) {
                objs[i].kind = INODE_CONTAINER;
                CHECK_INTEQ(inodes_add(t, &objs[i], NULL), 0);
        }
        CHECK(inode_number(&objs[99999], INO_PARTS - 1) < 10000000);
        CHECK(inodes_get(t, inode_number(&objs[54321], 0)) == &objs[54321]);
        for (size_t i = 0; i < 100000; i++)
                inodes_remove(t, &objs[i]);
        inodes_free(t);
}

TEST(shown_numbers_come_from_persistent_ids_and_never_meet_the_others)
{
        /* an object with a persistent id: the id's parts */
        CHECK_UINTEQ(inode_shown(1000, 0, 64), 1000 * INO_PARTS);
        CHECK_UINTEQ(inode_shown(1000, 5, 64), 1000 * INO_PARTS + 5);
        /* distinct ids and parts never give one number */
        CHECK(inode_shown(1000, INO_PARTS - 2, 64) < inode_shown(1001, 0, 64));
        /* none, or too large: from the node id, on the one part no id uses */
        CHECK_UINTEQ(inode_shown(0, 0, 130), 130 * INO_PARTS + INO_PARTS - 1);
        CHECK_UINTEQ(inode_shown(INO_PERSISTENT_MAX + 1, 0, 130), 130 * INO_PARTS + INO_PARTS - 1);
        CHECK_UINTEQ(inode_shown(INO_PERSISTENT_MAX, 0, 130) % INO_PARTS, 0);
        CHECK(inode_shown(0, 0, 130) != inode_shown(0, 0, 131));
}
