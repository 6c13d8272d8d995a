/* Unit tests for conntab: entries and ids, names, broadcast and send_to
 * with their error mapping, server-side close, abort and snapshot. A socketpair
 * stands in for a peer where a socket matters. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check_main.h"
#include "tcpchat/conntab.h"

#include "tcpchat/clock.h"

#define MAX_PEERS 8

/* A table with n entries, each with its own queue and no socket. */
struct fixture {
	struct tc_conntab *tab;
	struct tc_outq *q[MAX_PEERS];
	struct tc_conn *c[MAX_PEERS];
	int n;
};

static void
fixture_init(struct fixture *f, int n, size_t max_bytes)
{
	char peer[32];

	f->tab = tc_conntab_new(MAX_PEERS);
	ck_assert_ptr_nonnull(f->tab);
	f->n = n;
	for (int i = 0; i < n; i++) {
		snprintf(peer, sizeof(peer), "127.0.0.1:%d", 5000 + i);
		f->q[i] = tc_outq_new(max_bytes, tc_conntab_bell(f->tab));
		f->c[i] = tc_conntab_add(f->tab, -1, peer, f->q[i]);
		ck_assert_ptr_nonnull(f->c[i]);
	}
}

static void
fixture_fini(struct fixture *f)
{
	for (int i = 0; i < f->n; i++) {
		if (f->c[i] != NULL)
			tc_conntab_remove(f->tab, f->c[i]);
		tc_outq_free(f->q[i]);
	}
	ck_assert_uint_eq(tc_conntab_count(f->tab), 0);
	tc_conntab_free(f->tab);
}

static struct tc_msg *
msg(const char *s)
{
	struct tc_msg *m = tc_msg_new(s, strlen(s));

	ck_assert_ptr_nonnull(m);
	return m;
}

/* Texts queued in q, joined by '|', taken without waiting. */
static const char *
drain(struct tc_outq *q, char *buf, size_t len)
{
	struct tc_msg *m[16];
	unsigned marks;
	size_t n, used = 0;

	buf[0] = '\0';
	n = tc_outq_take(q, m, 16, ~0u, tc_clock_now_ns(), &marks);
	for (size_t i = 0; i < n; i++) {
		used += (size_t)snprintf(buf + used, len - used, "%s%s",
		                         i ? "|" : "", tc_msg_data(m[i]));
		tc_msg_unref(m[i]);
	}
	return buf;
}

START_TEST(test_add_and_remove_track_the_count)
{
	struct fixture f;

	fixture_init(&f, 3, 1024);
	ck_assert_uint_eq(tc_conntab_count(f.tab), 3);
	tc_conntab_remove(f.tab, f.c[1]);
	f.c[1] = NULL;
	ck_assert_uint_eq(tc_conntab_count(f.tab), 2);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_full_table_refuses_with_emfile)
{
	struct fixture f;
	struct tc_outq *q = tc_outq_new(1024, NULL);

	fixture_init(&f, MAX_PEERS, 1024);
	errno = 0;
	ck_assert_ptr_null(tc_conntab_add(f.tab, -1, "10.0.0.1:1", q));
	ck_assert_int_eq(errno, EMFILE);
	ck_assert_uint_eq(tc_conntab_count(f.tab), MAX_PEERS);
	fixture_fini(&f);
	tc_outq_free(q);
}
END_TEST

START_TEST(test_ids_are_never_reused_after_removals)
{
	struct fixture f;
	struct tc_conn *c;

	fixture_init(&f, 3, 1024);
	ck_assert_uint_eq(tc_conn_id(f.c[0]), 1);
	ck_assert_uint_eq(tc_conn_id(f.c[2]), 3);
	tc_conntab_remove(f.tab, f.c[2]);
	f.c[2] = NULL;
	c = tc_conntab_add(f.tab, -1, "10.0.0.1:1", f.q[2]);
	ck_assert_uint_eq(tc_conn_id(c), 4);
	tc_conntab_remove(f.tab, c);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_remove_in_any_order_keeps_the_others)
{
	struct fixture f;
	struct tc_conn_info *info;
	size_t n;

	fixture_init(&f, 6, 1024);
	/* First, last and middle: each swap-remove moves another entry. */
	for (int i = 0; i < 6; i += 5) {
		tc_conntab_remove(f.tab, f.c[i]);
		f.c[i] = NULL;
	}
	tc_conntab_remove(f.tab, f.c[2]);
	f.c[2] = NULL;
	info = tc_conntab_snapshot(f.tab, &n);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(info[0].id, 2);
	ck_assert_uint_eq(info[1].id, 4);
	ck_assert_uint_eq(info[2].id, 5);
	ck_assert_str_eq(info[1].peer, "127.0.0.1:5003");
	free(info);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_name_starts_as_the_peer_address)
{
	struct fixture f;

	fixture_init(&f, 1, 1024);
	ck_assert_str_eq(tc_conn_name(f.c[0]), "127.0.0.1:5000");
	ck_assert_int_eq(tc_conn_phase(f.c[0]), TC_PHASE_OPEN);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_move_reports_the_phase_it_left)
{
	struct fixture f;
	enum tc_phase was;

	fixture_init(&f, 1, 1024);
	ck_assert(tc_conn_move(f.c[0], TC_PHASE_HALF_CLOSED, &was));
	ck_assert_int_eq(was, TC_PHASE_OPEN);
	ck_assert_int_eq(tc_conn_phase(f.c[0]), TC_PHASE_HALF_CLOSED);
	ck_assert_int_eq(tc_conn_left_open_for(f.c[0]), TC_PHASE_HALF_CLOSED);
	/* No way back: an illegal move changes nothing. */
	ck_assert(!tc_conn_move(f.c[0], TC_PHASE_OPEN, &was));
	ck_assert_int_eq(was, TC_PHASE_HALF_CLOSED);
	ck_assert_int_eq(tc_conn_phase(f.c[0]), TC_PHASE_HALF_CLOSED);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_rename_to_a_free_name_returns_the_old_one)
{
	struct fixture f;
	char old[TC_NAME_MAX];

	fixture_init(&f, 2, 1024);
	ck_assert_int_eq(tc_conntab_rename(f.tab, f.c[0], "alice", old), 0);
	ck_assert_str_eq(old, "127.0.0.1:5000");
	ck_assert_str_eq(tc_conn_name(f.c[0]), "alice");
	fixture_fini(&f);
}
END_TEST

START_TEST(test_rename_to_a_taken_name_fails_ignoring_case)
{
	struct fixture f;
	char old[TC_NAME_MAX];

	fixture_init(&f, 2, 1024);
	ck_assert_int_eq(tc_conntab_rename(f.tab, f.c[0], "Alice", old), 0);
	errno = 0;
	ck_assert_int_eq(tc_conntab_rename(f.tab, f.c[1], "aLICE", old), -1);
	ck_assert_int_eq(errno, EEXIST);
	ck_assert_str_eq(tc_conn_name(f.c[1]), "127.0.0.1:5001");
	fixture_fini(&f);
}
END_TEST

START_TEST(test_rename_to_own_name_in_other_case_is_allowed)
{
	struct fixture f;
	char old[TC_NAME_MAX];

	fixture_init(&f, 1, 1024);
	ck_assert_int_eq(tc_conntab_rename(f.tab, f.c[0], "bob", old), 0);
	ck_assert_int_eq(tc_conntab_rename(f.tab, f.c[0], "Bob", old), 0);
	ck_assert_str_eq(old, "bob");
	ck_assert_str_eq(tc_conn_name(f.c[0]), "Bob");
	fixture_fini(&f);
}
END_TEST

START_TEST(test_reserved_name_cannot_be_taken)
{
	struct fixture f;
	char old[TC_NAME_MAX];

	fixture_init(&f, 1, 1024);
	tc_conntab_reserve_name(f.tab, "server");
	errno = 0;
	ck_assert_int_eq(tc_conntab_rename(f.tab, f.c[0], "SERVER", old), -1);
	ck_assert_int_eq(errno, EEXIST);
	ck_assert_int_eq(tc_conntab_rename(f.tab, f.c[0], "servers", old), 0);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_broadcast_skips_the_sender_and_closed_queues)
{
	struct fixture f;
	struct tc_msg *m = msg("hello");
	char buf[64];

	fixture_init(&f, 4, 1024);
	tc_outq_close(f.q[2]);
	ck_assert_uint_eq(tc_conntab_broadcast(f.tab, f.c[0], m), 2);
	ck_assert_str_eq(drain(f.q[0], buf, sizeof(buf)), "");
	ck_assert_str_eq(drain(f.q[1], buf, sizeof(buf)), "hello");
	ck_assert_str_eq(drain(f.q[2], buf, sizeof(buf)), "");
	ck_assert_str_eq(drain(f.q[3], buf, sizeof(buf)), "hello");
	ck_assert_int_eq(tc_conn_phase(f.c[2]), TC_PHASE_OPEN);
	/* NULL except: everyone, the console's case. */
	ck_assert_uint_eq(tc_conntab_broadcast(f.tab, NULL, m), 3);
	tc_msg_unref(m);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_broadcast_overflow_aborts_only_that_peer)
{
	struct tc_conntab *tab = tc_conntab_new(4);
	struct tc_outq *slow = tc_outq_new(4, tc_conntab_bell(tab));
	struct tc_outq *fast = tc_outq_new(1024, tc_conntab_bell(tab));
	struct tc_conn *cs, *cf;
	struct tc_msg *m = msg("12345");
	char buf[64];
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	cs = tc_conntab_add(tab, sv[0], "127.0.0.1:1", slow);
	cf = tc_conntab_add(tab, -1, "127.0.0.1:2", fast);
	ck_assert_uint_eq(tc_conntab_broadcast(tab, NULL, m), 1);
	ck_assert_str_eq(drain(fast, buf, sizeof(buf)), "12345");
	ck_assert_int_eq(tc_conn_phase(cs), TC_PHASE_ABORTED);
	/* shutdown(SHUT_RDWR), not a close: the peer end reads EOF now. */
	ck_assert_int_eq(recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT), 0);
	ck_assert_int_ne(fcntl(sv[0], F_GETFD), -1); /* not closed */
	/* The aborted queue takes nothing more; the others still do. */
	ck_assert_uint_eq(tc_conntab_broadcast(tab, NULL, m), 1);
	ck_assert_str_eq(drain(fast, buf, sizeof(buf)), "12345");
	tc_msg_unref(m);
	tc_conntab_remove(tab, cs);
	tc_conntab_remove(tab, cf);
	tc_outq_free(slow); /* before the table: it owns their bell */
	tc_outq_free(fast);
	tc_conntab_free(tab);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_send_to_reaches_only_that_connection)
{
	struct fixture f;
	struct tc_msg *m = msg("psst");
	char buf[64];

	fixture_init(&f, 3, 1024);
	ck_assert_int_eq(tc_conntab_send_to(f.tab, tc_conn_id(f.c[1]), m), 0);
	ck_assert_str_eq(drain(f.q[0], buf, sizeof(buf)), "");
	ck_assert_str_eq(drain(f.q[1], buf, sizeof(buf)), "psst");
	ck_assert_str_eq(drain(f.q[2], buf, sizeof(buf)), "");
	tc_msg_unref(m);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_send_to_unknown_id_fails_with_esrch)
{
	struct fixture f;
	struct tc_msg *m = msg("psst");

	fixture_init(&f, 1, 1024);
	errno = 0;
	ck_assert_int_eq(tc_conntab_send_to(f.tab, 42, m), -1);
	ck_assert_int_eq(errno, ESRCH);
	tc_msg_unref(m);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_send_to_closed_queue_fails_with_epipe)
{
	struct fixture f;
	struct tc_msg *m = msg("psst");

	fixture_init(&f, 1, 1024);
	tc_outq_close(f.q[0]);
	errno = 0;
	ck_assert_int_eq(tc_conntab_send_to(f.tab, 1, m), -1);
	ck_assert_int_eq(errno, EPIPE);
	ck_assert_int_eq(tc_conn_phase(f.c[0]), TC_PHASE_OPEN);
	tc_msg_unref(m);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_send_to_overflow_fails_with_enobufs_and_aborts)
{
	struct fixture f;
	struct tc_msg *m = msg("too long");

	fixture_init(&f, 1, 4);
	errno = 0;
	ck_assert_int_eq(tc_conntab_send_to(f.tab, 1, m), -1);
	ck_assert_int_eq(errno, ENOBUFS);
	ck_assert_int_eq(tc_conn_phase(f.c[0]), TC_PHASE_ABORTED);
	tc_msg_unref(m);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_close_one_queues_the_notice_last_and_marks_it)
{
	struct fixture f;
	struct tc_msg *m = msg("queued"), *bye = msg("* kicked");
	char buf[64];

	fixture_init(&f, 2, 1024);
	tc_conntab_broadcast(f.tab, NULL, m);
	ck_assert_uint_eq(tc_conntab_close(f.tab, tc_conn_id(f.c[1]), bye), 1);
	ck_assert_int_eq(tc_conn_phase(f.c[1]), TC_PHASE_CLOSING);
	ck_assert_uint_eq(tc_outq_status(f.q[1]), TC_OUTQ_CLOSED);
	ck_assert_str_eq(drain(f.q[1], buf, sizeof(buf)), "queued|* kicked");
	/* The other connection is untouched. */
	ck_assert_int_eq(tc_conn_phase(f.c[0]), TC_PHASE_OPEN);
	ck_assert_uint_eq(tc_outq_status(f.q[0]), 0);
	ck_assert_str_eq(drain(f.q[0], buf, sizeof(buf)), "queued");
	/* Again, or an unknown id: nothing left to close. */
	ck_assert_uint_eq(tc_conntab_close(f.tab, tc_conn_id(f.c[1]), bye), 0);
	ck_assert_uint_eq(tc_conntab_close(f.tab, 99, bye), 0);
	ck_assert_str_eq(drain(f.q[1], buf, sizeof(buf)), "");
	tc_msg_unref(m);
	tc_msg_unref(bye);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_close_all_closes_every_connection_not_yet_closing)
{
	struct fixture f;
	struct tc_msg *bye = msg("* server shutting down");
	char buf[64];

	fixture_init(&f, 4, 1024);
	tc_conntab_close(f.tab, tc_conn_id(f.c[3]), NULL);
	/* Half-closed peers still get the notice and the server close. */
	tc_conn_move(f.c[1], TC_PHASE_HALF_CLOSED, NULL);
	ck_assert_uint_eq(tc_conntab_close(f.tab, 0, bye), 3);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(tc_conn_phase(f.c[i]), TC_PHASE_CLOSING);
		ck_assert_uint_eq(tc_outq_status(f.q[i]) & TC_OUTQ_CLOSED,
		                  TC_OUTQ_CLOSED);
		ck_assert_str_eq(drain(f.q[i], buf, sizeof(buf)),
		                 "* server shutting down");
	}
	ck_assert_str_eq(drain(f.q[3], buf, sizeof(buf)), "");
	tc_msg_unref(bye);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_close_of_a_full_queue_keeps_everything_and_the_notice)
{
	struct fixture f;
	struct tc_msg *m = msg("1234"), *bye = msg("* bye");
	char buf[64];

	fixture_init(&f, 1, 4);
	tc_conntab_broadcast(f.tab, NULL, m);
	ck_assert_uint_eq(tc_conntab_close(f.tab, 1, bye), 1);
	ck_assert_uint_ne(tc_outq_status(f.q[0]) & TC_OUTQ_CLOSED, 0);
	/* No overflow: that would make the writer drop what is queued. */
	ck_assert_uint_eq(tc_outq_status(f.q[0]) & TC_OUTQ_OVERFLOW, 0);
	ck_assert_str_eq(drain(f.q[0], buf, sizeof(buf)), "1234|* bye");
	tc_msg_unref(m);
	tc_msg_unref(bye);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_abort_stale_cuts_only_long_closing_entries)
{
	struct fixture f;
	struct tc_msg *bye = msg("* bye");
	int64_t before;

	fixture_init(&f, 3, 1024);
	before = tc_clock_now_ns();
	tc_conntab_close(f.tab, tc_conn_id(f.c[0]), bye);
	tc_conn_move(f.c[1], TC_PHASE_HALF_CLOSED, NULL);
	/* Nothing left OPEN before `before`: nothing is stale yet. */
	ck_assert_uint_eq(tc_conntab_abort_stale(f.tab, before), 0);
	ck_assert_uint_eq(tc_conntab_abort_stale(f.tab, tc_clock_now_ns() + 1),
	                  2);
	ck_assert_int_eq(tc_conn_phase(f.c[0]), TC_PHASE_ABORTED);
	ck_assert_int_eq(tc_conn_phase(f.c[1]), TC_PHASE_ABORTED);
	ck_assert_int_eq(tc_conn_phase(f.c[2]), TC_PHASE_OPEN);
	/* Each is cut once. */
	ck_assert_uint_eq(tc_conntab_abort_stale(f.tab, tc_clock_now_ns() + 1),
	                  0);
	tc_msg_unref(bye);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_abort_stalled_cuts_only_peers_owed_bytes_that_stand_still)
{
	struct fixture f;
	struct tc_msg *m = msg("owed");
	struct tc_lost lost = {0};

	fixture_init(&f, 2, 1024);
	ck_assert_int_eq(tc_conntab_send_to(f.tab, tc_conn_id(f.c[0]), m), 0);
	/* The first look only starts the clocks. */
	tc_conntab_abort_stalled(f.tab, 0, &lost);
	ck_assert_int_eq(tc_conn_phase(f.c[0]), TC_PHASE_OPEN);
	/* Nothing acknowledged since, with bytes still owed: cut, counted. */
	tc_conntab_abort_stalled(f.tab, 0, &lost);
	ck_assert_int_eq(tc_conn_phase(f.c[0]), TC_PHASE_ABORTED);
	ck_assert_uint_eq(lost.clients, 1);
	ck_assert_uint_eq(lost.bytes, 4);
	/* Owed nothing: waiting for its FIN is not a stall. */
	ck_assert_int_eq(tc_conn_phase(f.c[1]), TC_PHASE_OPEN);
	/* Cut once, counted once. */
	tc_conntab_abort_stalled(f.tab, 0, &lost);
	ck_assert_uint_eq(lost.clients, 1);
	tc_msg_unref(m);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_abort_all_shuts_every_socket_down)
{
	struct tc_conntab *tab = tc_conntab_new(4);
	struct tc_outq *q[2] = {tc_outq_new(64, NULL), tc_outq_new(64, NULL)};
	struct tc_conn *c[2];
	struct tc_lost lost = {0};
	int sv[2][2];
	char buf[8];

	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv[i]), 0);
		c[i] = tc_conntab_add(tab, sv[i][0], "127.0.0.1:1", q[i]);
	}

	tc_conntab_abort_all(tab, &lost);
	/* Nothing was queued or in flight: nothing owed, nothing lost. */
	ck_assert_uint_eq(lost.clients, 0);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(recv(sv[i][1], buf, sizeof(buf), MSG_DONTWAIT),
		                 0);
		ck_assert_int_eq(tc_conn_phase(c[i]), TC_PHASE_ABORTED);
		tc_conntab_remove(tab, c[i]);
		tc_outq_free(q[i]);
		close(sv[i][0]);
		close(sv[i][1]);
	}
	tc_conntab_free(tab);
}
END_TEST

START_TEST(test_abort_one_leaves_the_others_alone)
{
	struct tc_conntab *tab = tc_conntab_new(4);
	struct tc_outq *q[2] = {tc_outq_new(64, NULL), tc_outq_new(64, NULL)};
	struct tc_conn *c[2];
	int sv[2][2];
	char buf[8];

	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv[i]), 0);
		c[i] = tc_conntab_add(tab, sv[i][0], "127.0.0.1:1", q[i]);
	}
	tc_conn_move(c[0], TC_PHASE_ABORTED, NULL);
	ck_assert_int_eq(recv(sv[0][1], buf, sizeof(buf), MSG_DONTWAIT), 0);
	errno = 0;
	ck_assert_int_eq(recv(sv[1][1], buf, sizeof(buf), MSG_DONTWAIT), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_uint_eq(tc_outq_status(q[1]), 0);
	ck_assert_int_eq(tc_conn_phase(c[1]), TC_PHASE_OPEN);
	/* An aborted connection's queue takes nothing more. */
	{
		struct tc_msg *m = msg("x");

		errno = 0;
		ck_assert_int_eq(tc_outq_push(q[0], m), -1);
		ck_assert_int_eq(errno, EPIPE);
		ck_assert_uint_eq(tc_outq_bytes(q[0]), 0);
		tc_msg_unref(m);
	}
	for (int i = 0; i < 2; i++) {
		tc_conntab_remove(tab, c[i]);
		tc_outq_free(q[i]);
		close(sv[i][0]);
		close(sv[i][1]);
	}
	tc_conntab_free(tab);
}
END_TEST

START_TEST(test_snapshot_is_sorted_by_id_with_counters)
{
	struct fixture f;
	struct tc_conn_info *info;
	struct tc_msg *m = msg("abc");
	char old[TC_NAME_MAX];
	size_t n;

	fixture_init(&f, 4, 1024);
	/* Swap-removing the first entry scrambles the array order. */
	tc_conntab_remove(f.tab, f.c[0]);
	f.c[0] = NULL;
	tc_conntab_rename(f.tab, f.c[2], "carol", old);
	tc_conn_count_in(f.c[2], 10, 2);
	tc_conn_count_in(f.c[2], 5, 1);
	tc_conn_count_out(f.c[2], 7, 3);
	tc_conntab_send_to(f.tab, tc_conn_id(f.c[2]), m);
	tc_conn_move(f.c[3], TC_PHASE_HALF_CLOSED, NULL);
	info = tc_conntab_snapshot(f.tab, &n);
	ck_assert_uint_eq(n, 3);
	for (int i = 0; i < 3; i++)
		ck_assert_uint_eq(info[i].id, (unsigned)i + 2);
	ck_assert_str_eq(info[1].name, "carol");
	ck_assert_str_eq(info[1].peer, "127.0.0.1:5002");
	ck_assert_uint_eq(info[1].bytes_in, 15);
	ck_assert_uint_eq(info[1].msgs_in, 3);
	ck_assert_uint_eq(info[1].bytes_out, 7);
	ck_assert_uint_eq(info[1].msgs_out, 3);
	ck_assert_uint_eq(info[1].queued, 3);
	ck_assert_uint_eq(info[0].bytes_in, 0);
	ck_assert_int_eq(info[2].phase, TC_PHASE_HALF_CLOSED);
	free(info);
	tc_msg_unref(m);
	fixture_fini(&f);
}
END_TEST

START_TEST(test_snapshot_of_an_empty_table_is_empty)
{
	struct tc_conntab *tab = tc_conntab_new(4);
	struct tc_conn_info *info;
	size_t n = 99;

	info = tc_conntab_snapshot(tab, &n);
	ck_assert_ptr_nonnull(info);
	ck_assert_uint_eq(n, 0);
	free(info);
	tc_conntab_free(tab);
}
END_TEST

static Suite *
conntab_suite(void)
{
	Suite *s = suite_create("conntab");
	TCase *tc;

	tc = tcase_create("entries");
	tcase_add_test(tc, test_add_and_remove_track_the_count);
	tcase_add_test(tc, test_full_table_refuses_with_emfile);
	tcase_add_test(tc, test_ids_are_never_reused_after_removals);
	tcase_add_test(tc, test_remove_in_any_order_keeps_the_others);
	tcase_add_test(tc, test_name_starts_as_the_peer_address);
	tcase_add_test(tc, test_move_reports_the_phase_it_left);
	suite_add_tcase(s, tc);

	tc = tcase_create("names");
	tcase_add_test(tc, test_rename_to_a_free_name_returns_the_old_one);
	tcase_add_test(tc, test_rename_to_a_taken_name_fails_ignoring_case);
	tcase_add_test(tc, test_rename_to_own_name_in_other_case_is_allowed);
	tcase_add_test(tc, test_reserved_name_cannot_be_taken);
	suite_add_tcase(s, tc);

	tc = tcase_create("routing");
	tcase_add_test(tc, test_broadcast_skips_the_sender_and_closed_queues);
	tcase_add_test(tc, test_broadcast_overflow_aborts_only_that_peer);
	tcase_add_test(tc, test_send_to_reaches_only_that_connection);
	tcase_add_test(tc, test_send_to_unknown_id_fails_with_esrch);
	tcase_add_test(tc, test_send_to_closed_queue_fails_with_epipe);
	tcase_add_test(tc, test_send_to_overflow_fails_with_enobufs_and_aborts);
	suite_add_tcase(s, tc);

	tc = tcase_create("close_and_abort");
	tcase_add_test(tc, test_close_one_queues_the_notice_last_and_marks_it);
	tcase_add_test(tc,
	               test_close_all_closes_every_connection_not_yet_closing);
	tcase_add_test(
	    tc, test_close_of_a_full_queue_keeps_everything_and_the_notice);
	tcase_add_test(tc, test_abort_stale_cuts_only_long_closing_entries);
	tcase_add_test(tc, test_abort_all_shuts_every_socket_down);
	tcase_add_test(
	    tc, test_abort_stalled_cuts_only_peers_owed_bytes_that_stand_still);
	tcase_add_test(tc, test_abort_one_leaves_the_others_alone);
	suite_add_tcase(s, tc);

	tc = tcase_create("snapshot");
	tcase_add_test(tc, test_snapshot_is_sorted_by_id_with_counters);
	tcase_add_test(tc, test_snapshot_of_an_empty_table_is_empty);
	suite_add_tcase(s, tc);

	return s;
}

Suite *
tc_test_suite(void)
{
	return conntab_suite();
}
