/*
 * vt_spool.c
 *	  The node id and the spool files of counting on hot standbys
 *	  (vt_spool.h); the batch format.
 *
 * Layout under $PGDATA (the server's working directory):
 *
 *	  pgsql_tmp_vatoken/node						16 bytes: this node's id
 *	  pgsql_tmp_vatoken/<node>/<dboid>/<seq>.batch	a batch (vt_batch_header ...)
 *	  pgsql_tmp_vatoken/<node>/<dboid>/last_seq		highest seq removed
 *
 * Every file is written to a temporary name, fsync'd and renamed (or
 * linked) into place, and its directory fsync'd: after a crash a batch is
 * either whole or absent.  Batches are kept under the node's id, so that a
 * data directory whose id was removed (to make a copy a new node) never
 * delivers the old node's batches as its own.
 */
#include "postgres.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file_perm.h"
#include "miscadmin.h"
#include "port/pg_crc32c.h"
#include "storage/fd.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "vt_spool.h"

#define VT_NODE_FILE	VT_SPOOL_DIR "/node"

static void
vt_node_hex(const pg_uuid_t *node, char *buf)
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < UUID_LEN; i++)
	{
		buf[2 * i] = hex[node->data[i] >> 4];
		buf[2 * i + 1] = hex[node->data[i] & 0xf];
	}
	buf[2 * UUID_LEN] = '\0';
}

static void
vt_db_dir(const pg_uuid_t *node, Oid dbid, char *path, size_t size)
{
	char		hex[2 * UUID_LEN + 1];

	vt_node_hex(node, hex);
	snprintf(path, size, "%s/%s/%u", VT_SPOOL_DIR, hex, dbid);
}

static void
vt_batch_path(const pg_uuid_t *node, Oid dbid, int64 seq, bool tmp, char *path, size_t size)
{
	char		dir[MAXPGPATH];

	vt_db_dir(node, dbid, dir, sizeof(dir));
	snprintf(path, size, "%s/%016llx.batch%s", dir, (unsigned long long) seq, tmp ? ".tmp" : "");
}

/* fsync the directory that holds path. */
static void
vt_fsync_parent(const char *path)
{
	char		parent[MAXPGPATH];
	char	   *slash;

	strlcpy(parent, path, sizeof(parent));
	slash = strrchr(parent, '/');
	if (slash == NULL)
		strlcpy(parent, ".", sizeof(parent));
	else
		*slash = '\0';
	fsync_fname(parent, true);
}

/* mkdir -p of path, each new directory's parent fsync'd. */
static void
vt_make_dirs(const char *path)
{
	char		buf[MAXPGPATH];

	strlcpy(buf, path, sizeof(buf));
	for (char *p = buf;; p++)
	{
		if (*p == '/' || *p == '\0')
		{
			char		c = *p;

			*p = '\0';
			if (MakePGDirectory(buf) == 0)
				vt_fsync_parent(buf);
			else if (errno != EEXIST)
				ereport(ERROR,
						(errcode_for_file_access(),
						 errmsg("could not create directory \"%s\": %m", buf)));
			*p = c;
			if (c == '\0')
				break;
		}
	}
}

/* Write data to path (new), fsync'd. */
static void
vt_write_file(const char *path, const void *data, size_t len)
{
	int			fd = OpenTransientFile(path, O_WRONLY | O_CREAT | O_TRUNC | PG_BINARY);

	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create file \"%s\": %m", path)));
	errno = 0;
	if (write(fd, data, len) != (ssize_t) len)
	{
		int			save_errno = errno ? errno : ENOSPC;

		CloseTransientFile(fd);
		unlink(path);
		errno = save_errno;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not write file \"%s\": %m", path)));
	}
	if (pg_fsync(fd) != 0)
		ereport(data_sync_elevel(ERROR),
				(errcode_for_file_access(),
				 errmsg("could not fsync file \"%s\": %m", path)));
	if (CloseTransientFile(fd) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not close file \"%s\": %m", path)));
}

/* The whole file, or NULL if it does not exist. */
static bytea *
vt_read_file(const char *path)
{
	int			fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
	struct stat st;
	bytea	   *result;

	if (fd < 0)
	{
		if (errno == ENOENT)
			return NULL;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open file \"%s\": %m", path)));
	}
	if (fstat(fd, &st) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat file \"%s\": %m", path)));
	if (st.st_size > (off_t) (MaxAllocSize - VARHDRSZ))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("file \"%s\" is too large", path)));
	result = palloc(VARHDRSZ + st.st_size);
	SET_VARSIZE(result, VARHDRSZ + st.st_size);
	if (read(fd, VARDATA(result), st.st_size) != st.st_size)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not read file \"%s\": %m", path)));
	CloseTransientFile(fd);
	return result;
}

bool
vt_spool_node(pg_uuid_t *node, bool create)
{
	bytea	   *data = vt_read_file(VT_NODE_FILE);
	char		tmp[MAXPGPATH];

	if (data == NULL && create)
	{
		pg_uuid_t	fresh;

		if (!pg_strong_random(fresh.data, UUID_LEN))
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not generate a random node id")));
		fresh.data[6] = (fresh.data[6] & 0x0f) | 0x40;	/* version 4 */
		fresh.data[8] = (fresh.data[8] & 0x3f) | 0x80;	/* variant */

		vt_make_dirs(VT_SPOOL_DIR);
		snprintf(tmp, sizeof(tmp), "%s.tmp.%d", VT_NODE_FILE, MyProcPid);
		vt_write_file(tmp, fresh.data, UUID_LEN);
		/* link() never replaces: the first of two processes wins. */
		if (link(tmp, VT_NODE_FILE) != 0 && errno != EEXIST)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not link file \"%s\" to \"%s\": %m", tmp, VT_NODE_FILE)));
		unlink(tmp);
		fsync_fname(VT_SPOOL_DIR, true);
		data = vt_read_file(VT_NODE_FILE);
	}
	if (data == NULL)
		return false;
	if (VARSIZE(data) - VARHDRSZ != UUID_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid vatoken node file \"%s\"", VT_NODE_FILE),
				 errhint("Remove the directory \"%s\" of the data directory to make this server a new node; its batches not yet delivered are then lost.",
						 VT_SPOOL_DIR)));
	memcpy(node->data, VARDATA(data), UUID_LEN);
	pfree(data);
	return true;
}

static uint32
vt_batch_crc(const char *data, size_t len)
{
	pg_crc32c	crc;
	vt_batch_header hdr;

	memcpy(&hdr, data, sizeof(hdr));
	hdr.crc = 0;
	INIT_CRC32C(crc);
	COMP_CRC32C(crc, &hdr, sizeof(hdr));
	COMP_CRC32C(crc, data + sizeof(hdr), len - sizeof(hdr));
	FIN_CRC32C(crc);
	return crc;
}

bytea *
vt_batch_encode(const pg_uuid_t *node, int64 seq, Oid dbid, Oid relid,
				const vt_pending *items, int n)
{
	size_t		len = sizeof(vt_batch_header) + sizeof(vt_batch_item) * (size_t) n;
	bytea	   *batch = palloc0(VARHDRSZ + len);
	vt_batch_header hdr;

	memset(&hdr, 0, sizeof(hdr));
	hdr.magic = VT_BATCH_MAGIC;
	hdr.item_size = sizeof(vt_batch_item);
	hdr.node = *node;
	hdr.seq = seq;
	if (!pg_strong_random(&hdr.nonce, sizeof(hdr.nonce)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random batch nonce")));
	hdr.dbid = dbid;
	hdr.relid = relid;
	hdr.nitems = n;
	SET_VARSIZE(batch, VARHDRSZ + len);
	for (int i = 0; i < n; i++)
	{
		vt_batch_item item;

		memset(&item, 0, sizeof(item));
		item.token_id = items[i].token.token_id;
		item.tag = items[i].token.tag;
		item.calls = (int64) items[i].calls;
		item.last_used = items[i].last_used;
		item.day = items[i].day;
		item.rejected = (int64) items[i].rejected;
		item.client_at = items[i].client_at;
		if (item.client_at != 0)
			item.client = items[i].client;
		memcpy(VARDATA(batch) + sizeof(hdr) + sizeof(item) * i, &item, sizeof(item));
	}
	memcpy(VARDATA(batch), &hdr, sizeof(hdr));
	hdr.crc = vt_batch_crc(VARDATA(batch), len);
	memcpy(VARDATA(batch), &hdr, sizeof(hdr));
	return batch;
}

const char *
vt_batch_decode(const char *data, size_t len, vt_batch_header *hdr, vt_batch_item **items)
{
	vt_batch_item *result;
	size_t		item_size;

	*items = NULL;
	if (len < sizeof(vt_batch_header))
		return "The batch is shorter than its header.";
	memcpy(hdr, data, sizeof(*hdr));
	item_size = hdr->item_size;
	if (hdr->magic != VT_BATCH_MAGIC ||
		(item_size != sizeof(vt_batch_item) && item_size != VT_BATCH_ITEM_1_2_SIZE))
		return "The batch does not start with the expected header.";
	if (hdr->nitems > VT_BATCH_MAX_ITEMS)
		return "The batch holds too many counts.";
	if (len != sizeof(vt_batch_header) + item_size * (size_t) hdr->nitems)
		return "The batch's length does not match its number of counts.";
	if (vt_batch_crc(data, len) != hdr->crc)
		return "The batch's checksum does not match.";
	if (hdr->seq <= 0)
		return "The batch's sequence number is not positive.";

	result = palloc0(sizeof(vt_batch_item) * Max(hdr->nitems, 1));
	for (uint32 i = 0; i < hdr->nitems; i++)
	{
		vt_batch_item *it = &result[i];
		int64		date;

		memcpy(it, data + sizeof(*hdr) + item_size * i, item_size);
		date = (int64) it->day - (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE);
		if (it->token_id <= 0 || it->calls < 0 || it->rejected < 0 ||
			(it->calls == 0 && it->rejected == 0))
			return "A count has a token id that is not positive, or no calls.";
		if (it->calls > VT_BATCH_MAX_CALLS || it->rejected > VT_BATCH_MAX_CALLS)
			return "A count has more calls than one server can make in a day.";
		if (date < PG_INT32_MIN || date > PG_INT32_MAX || !IS_VALID_DATE((DateADT) date))
			return "A count has a day out of range.";
		if (!IS_VALID_TIMESTAMP(it->last_used) || !IS_VALID_TIMESTAMP(it->client_at))
			return "A count has a time of last use out of range.";
		if (it->client_at != 0 &&
			!((it->client.family == VT_IPV4 && it->client.bits <= 32) ||
			  (it->client.family == VT_IPV6 && it->client.bits <= 128)))
			return "A count has a client address that is not an IP address.";
	}
	*items = result;
	return NULL;
}

static int
vt_seq_cmp(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

int64 *
vt_spool_list(const pg_uuid_t *node, Oid dbid, int *n)
{
	char		dir[MAXPGPATH];
	DIR		   *d;
	struct dirent *de;
	int64	   *seqs;
	int			count = 0;
	int			size = 16;

	vt_db_dir(node, dbid, dir, sizeof(dir));
	seqs = palloc(sizeof(int64) * size);
	d = AllocateDir(dir);
	if (d == NULL && errno == ENOENT)
	{
		*n = 0;
		return seqs;
	}
	while ((de = ReadDir(d, dir)) != NULL)
	{
		unsigned long long seq;
		char		rest[16];

		if (sscanf(de->d_name, "%16llx.batc%15s", &seq, rest) != 2 ||
			strcmp(rest, "h") != 0 || strlen(de->d_name) != 22)
			continue;
		if (count == size)
		{
			size *= 2;
			seqs = repalloc(seqs, sizeof(int64) * size);
		}
		seqs[count++] = (int64) seq;
	}
	FreeDir(d);
	qsort(seqs, count, sizeof(int64), vt_seq_cmp);
	*n = count;
	return seqs;
}

bytea *
vt_spool_read(const pg_uuid_t *node, Oid dbid, int64 seq)
{
	char		path[MAXPGPATH];

	vt_batch_path(node, dbid, seq, false, path, sizeof(path));
	return vt_read_file(path);
}

/* The highest seq of a removed batch (0 if none). */
static int64
vt_removed_last_seq(const pg_uuid_t *node, Oid dbid)
{
	char		path[MAXPGPATH];
	bytea	   *data;
	int64		last = 0;

	vt_db_dir(node, dbid, path, sizeof(path));
	strlcat(path, "/last_seq", sizeof(path));
	data = vt_read_file(path);
	if (data != NULL && VARSIZE(data) - VARHDRSZ == sizeof(int64))
		memcpy(&last, VARDATA(data), sizeof(int64));
	return last;
}

int64
vt_spool_last_seq(const pg_uuid_t *node, Oid dbid)
{
	int64		last = vt_removed_last_seq(node, dbid);
	int64	   *seqs;
	int			n;

	seqs = vt_spool_list(node, dbid, &n);
	if (n > 0 && seqs[n - 1] > last)
		last = seqs[n - 1];
	pfree(seqs);
	return last;
}

void
vt_spool_prepare(const pg_uuid_t *node, Oid dbid, int64 seq, const bytea *batch)
{
	char		dir[MAXPGPATH];
	char		path[MAXPGPATH];

	vt_db_dir(node, dbid, dir, sizeof(dir));
	vt_make_dirs(dir);
	vt_batch_path(node, dbid, seq, true, path, sizeof(path));
	vt_write_file(path, VARDATA_ANY(batch), VARSIZE_ANY_EXHDR(batch));
}

/*
 * The rename is the moment the batch exists; a failed fsync after it is a
 * PANIC (data_sync_elevel), as PostgreSQL treats its own files.
 */
void
vt_spool_commit(const pg_uuid_t *node, Oid dbid, int64 seq)
{
	char		tmp[MAXPGPATH];
	char		path[MAXPGPATH];
	char		dir[MAXPGPATH];

	vt_batch_path(node, dbid, seq, true, tmp, sizeof(tmp));
	vt_batch_path(node, dbid, seq, false, path, sizeof(path));
	vt_db_dir(node, dbid, dir, sizeof(dir));
	if (rename(tmp, path) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not rename file \"%s\" to \"%s\": %m", tmp, path)));
	if (fsync_fname_ext(dir, true, false, data_sync_elevel(ERROR)) != 0)
		ereport(data_sync_elevel(ERROR),
				(errcode_for_file_access(),
				 errmsg("could not fsync directory \"%s\": %m", dir)));
}

void
vt_spool_abandon(const pg_uuid_t *node, Oid dbid, int64 seq)
{
	char		tmp[MAXPGPATH];

	vt_batch_path(node, dbid, seq, true, tmp, sizeof(tmp));
	unlink(tmp);
}

void
vt_spool_remove(const pg_uuid_t *node, Oid dbid, int64 upto)
{
	int			n;
	int64	   *seqs = vt_spool_list(node, dbid, &n);
	char		dir[MAXPGPATH];
	char		path[MAXPGPATH];
	char		tmp[MAXPGPATH];
	int64		highest = 0;

	for (int i = 0; i < n; i++)
		if (seqs[i] <= upto)
			highest = seqs[i];
	if (highest == 0)
		return;

	/* Keep the highest seq used, so that no seq is ever used twice. */
	vt_db_dir(node, dbid, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/last_seq", dir);
	snprintf(tmp, sizeof(tmp), "%s/last_seq.tmp", dir);
	if (highest > vt_removed_last_seq(node, dbid))
	{
		vt_write_file(tmp, &highest, sizeof(highest));
		(void) durable_rename(tmp, path, ERROR);
	}
	for (int i = 0; i < n && seqs[i] <= upto; i++)
	{
		vt_batch_path(node, dbid, seqs[i], false, path, sizeof(path));
		if (unlink(path) != 0 && errno != ENOENT)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not remove file \"%s\": %m", path)));
	}
	/* A removal that a crash undoes is harmless: the batch is delivered. */
	pfree(seqs);
}

Oid *
vt_spool_databases(int *n)
{
	pg_uuid_t	node;
	char		hex[2 * UUID_LEN + 1];
	char		dir[MAXPGPATH];
	DIR		   *d;
	struct dirent *de;
	Oid		   *dbs;
	int			count = 0;
	int			size = 8;

	dbs = palloc(sizeof(Oid) * size);
	*n = 0;
	if (!vt_spool_node(&node, false))
		return dbs;
	vt_node_hex(&node, hex);
	snprintf(dir, sizeof(dir), "%s/%s", VT_SPOOL_DIR, hex);
	d = AllocateDir(dir);
	if (d == NULL && errno == ENOENT)
		return dbs;
	while ((de = ReadDir(d, dir)) != NULL)
	{
		Oid			dbid = (Oid) strtoul(de->d_name, NULL, 10);
		int			nb;
		int64	   *seqs;

		if (dbid == InvalidOid)
			continue;
		seqs = vt_spool_list(&node, dbid, &nb);
		pfree(seqs);
		if (nb == 0)
			continue;
		if (count == size)
		{
			size *= 2;
			dbs = repalloc(dbs, sizeof(Oid) * size);
		}
		dbs[count++] = dbid;
	}
	FreeDir(d);
	*n = count;
	return dbs;
}

void
vt_spool_forget_database(Oid dbid)
{
	pg_uuid_t	node;
	char		dir[MAXPGPATH];
	struct stat st;

	if (!vt_spool_node(&node, false))
		return;
	vt_db_dir(&node, dbid, dir, sizeof(dir));
	if (stat(dir, &st) == 0 && !rmtree(dir, true))
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not remove directory \"%s\"", dir)));
}

void
vt_batch_item_pending(const vt_batch_item *item, Oid relid, vt_pending *p)
{
	p->token.relid = relid;
	p->token.token_id = item->token_id;
	p->token.tag = item->tag;
	p->day = item->day;
	p->calls = (uint64) item->calls;
	p->calls_total = p->calls;
	p->rejected = (uint64) item->rejected;
	p->rejected_total = p->rejected;
	p->last_used = item->calls > 0 ? item->last_used : 0;
	p->client_at = item->client_at;
	memset(&p->client, 0, sizeof(p->client));
	if (p->client_at != 0)
		p->client = item->client;
	p->resolved = false;
}

/*
 * When batch seq was spooled: its file's modification time (written once,
 * before the rename that commits it).  0 if it is gone (delivered meanwhile).
 */
TimestampTz
vt_spool_batch_time(const pg_uuid_t *node, Oid dbid, int64 seq)
{
	char		path[MAXPGPATH];
	struct stat st;

	vt_batch_path(node, dbid, seq, false, path, sizeof(path));
	if (stat(path, &st) != 0)
	{
		if (errno != ENOENT)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not stat file \"%s\": %m", path)));
		return 0;
	}
	return time_t_to_timestamptz(st.st_mtime);
}
