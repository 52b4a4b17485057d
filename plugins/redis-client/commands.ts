/**
 * The command names that become `db.operation.name` as they are; anything else is `_OTHER`, so an app
 * that sends odd names (or a bug that sends keys as names) cannot grow the label set. Redis 7.0's
 * `COMMAND LIST` (top-level commands; subcommands such as `CLIENT SETNAME` count under `CLIENT`), the
 * commands added up to Redis 8, and the common module commands (RedisJSON, Search, TimeSeries, Bloom).
 */
export const KNOWN_COMMANDS: ReadonlySet<string> = new Set([
  'ACL', 'APPEND', 'ASKING', 'AUTH', 'BF.ADD', 'BF.EXISTS', 'BF.MADD', 'BF.MEXISTS', 'BF.RESERVE', 'BGREWRITEAOF',
  'BGSAVE', 'BITCOUNT', 'BITFIELD', 'BITFIELD_RO', 'BITOP', 'BITPOS', 'BLMOVE', 'BLMPOP', 'BLPOP', 'BRPOP',
  'BRPOPLPUSH', 'BZMPOP', 'BZPOPMAX', 'BZPOPMIN', 'CLIENT', 'CLUSTER', 'COMMAND', 'CONFIG', 'COPY', 'DBSIZE',
  'DEBUG', 'DECR', 'DECRBY', 'DEL', 'DISCARD', 'DUMP', 'ECHO', 'EVAL', 'EVALSHA', 'EVALSHA_RO', 'EVAL_RO', 'EXEC',
  'EXISTS', 'EXPIRE', 'EXPIREAT', 'EXPIRETIME', 'FAILOVER', 'FCALL', 'FCALL_RO', 'FLUSHALL', 'FLUSHDB',
  'FT.AGGREGATE', 'FT.CREATE', 'FT.DROPINDEX', 'FT.INFO', 'FT.SEARCH', 'FT._LIST', 'FUNCTION', 'GEOADD', 'GEODIST',
  'GEOHASH', 'GEOPOS', 'GEORADIUS', 'GEORADIUSBYMEMBER', 'GEORADIUSBYMEMBER_RO', 'GEORADIUS_RO', 'GEOSEARCH',
  'GEOSEARCHSTORE', 'GET', 'GETBIT', 'GETDEL', 'GETEX', 'GETRANGE', 'GETSET', 'HDEL', 'HELLO', 'HEXISTS', 'HEXPIRE',
  'HEXPIREAT', 'HEXPIRETIME', 'HGET', 'HGETALL', 'HGETDEL', 'HGETEX', 'HINCRBY', 'HINCRBYFLOAT', 'HKEYS', 'HLEN',
  'HMGET', 'HMSET', 'HPERSIST', 'HPEXPIRE', 'HPEXPIREAT', 'HPEXPIRETIME', 'HPTTL', 'HRANDFIELD', 'HSCAN', 'HSET',
  'HSETEX', 'HSETNX', 'HSTRLEN', 'HTTL', 'HVALS', 'INCR', 'INCRBY', 'INCRBYFLOAT', 'INFO', 'JSON.ARRAPPEND',
  'JSON.DEL', 'JSON.GET', 'JSON.MGET', 'JSON.MSET', 'JSON.NUMINCRBY', 'JSON.SET', 'JSON.TYPE', 'KEYS', 'LASTSAVE',
  'LATENCY', 'LCS', 'LINDEX', 'LINSERT', 'LLEN', 'LMOVE', 'LMPOP', 'LOLWUT', 'LPOP', 'LPOS', 'LPUSH', 'LPUSHX',
  'LRANGE', 'LREM', 'LSET', 'LTRIM', 'MEMORY', 'MGET', 'MIGRATE', 'MODULE', 'MONITOR', 'MOVE', 'MSET', 'MSETNX',
  'MULTI', 'OBJECT', 'PERSIST', 'PEXPIRE', 'PEXPIREAT', 'PEXPIRETIME', 'PFADD', 'PFCOUNT', 'PFDEBUG', 'PFMERGE',
  'PFSELFTEST', 'PING', 'PSETEX', 'PSUBSCRIBE', 'PSYNC', 'PTTL', 'PUBLISH', 'PUBSUB', 'PUNSUBSCRIBE', 'QUIT',
  'RANDOMKEY', 'READONLY', 'READWRITE', 'RENAME', 'RENAMENX', 'REPLCONF', 'REPLICAOF', 'RESET', 'RESTORE',
  'RESTORE-ASKING', 'ROLE', 'RPOP', 'RPOPLPUSH', 'RPUSH', 'RPUSHX', 'SADD', 'SAVE', 'SCAN', 'SCARD', 'SCRIPT',
  'SDIFF', 'SDIFFSTORE', 'SELECT', 'SET', 'SETBIT', 'SETEX', 'SETNX', 'SETRANGE', 'SHUTDOWN', 'SINTER', 'SINTERCARD',
  'SINTERSTORE', 'SISMEMBER', 'SLAVEOF', 'SLOWLOG', 'SMEMBERS', 'SMISMEMBER', 'SMOVE', 'SORT', 'SORT_RO', 'SPOP',
  'SPUBLISH', 'SRANDMEMBER', 'SREM', 'SSCAN', 'SSUBSCRIBE', 'STRLEN', 'SUBSCRIBE', 'SUBSTR', 'SUNION', 'SUNIONSTORE',
  'SUNSUBSCRIBE', 'SWAPDB', 'SYNC', 'TIME', 'TOUCH', 'TS.ADD', 'TS.CREATE', 'TS.GET', 'TS.MADD', 'TS.MRANGE',
  'TS.RANGE', 'TTL', 'TYPE', 'UNLINK', 'UNSUBSCRIBE', 'UNWATCH', 'VADD', 'VCARD', 'VDIM', 'VEMB', 'VGETATTR',
  'VINFO', 'VLINKS', 'VRANDMEMBER', 'VREM', 'VSETATTR', 'VSIM', 'WAIT', 'WAITAOF', 'WATCH', 'XACK', 'XADD',
  'XAUTOCLAIM', 'XCLAIM', 'XDEL', 'XGROUP', 'XINFO', 'XLEN', 'XPENDING', 'XRANGE', 'XREAD', 'XREADGROUP',
  'XREVRANGE', 'XSETID', 'XTRIM', 'ZADD', 'ZCARD', 'ZCOUNT', 'ZDIFF', 'ZDIFFSTORE', 'ZINCRBY', 'ZINTER',
  'ZINTERCARD', 'ZINTERSTORE', 'ZLEXCOUNT', 'ZMPOP', 'ZMSCORE', 'ZPOPMAX', 'ZPOPMIN', 'ZRANDMEMBER', 'ZRANGE',
  'ZRANGEBYLEX', 'ZRANGEBYSCORE', 'ZRANGESTORE', 'ZRANK', 'ZREM', 'ZREMRANGEBYLEX', 'ZREMRANGEBYRANK',
  'ZREMRANGEBYSCORE', 'ZREVRANGE', 'ZREVRANGEBYLEX', 'ZREVRANGEBYSCORE', 'ZREVRANK', 'ZSCAN', 'ZSCORE', 'ZUNION',
  'ZUNIONSTORE',
]);

/** Bound on the raw spellings remembered (`get`, `GET`, `Get`…); past it names are looked up afresh. */
const MAX_SPELLINGS = 1000;
const spellings = new Map<string, string>();

/** `get` → `GET`; an unknown name → `_OTHER`. A map lookup once a spelling has been seen. */
export function commandLabel(raw: unknown): string {
  if (typeof raw !== 'string') {
    if (raw instanceof Uint8Array) raw = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('latin1');
    else return '_OTHER';
  }
  const name = raw as string;
  const known = spellings.get(name);
  if (known !== undefined) return known;
  const upper = name.length <= 32 ? name.toUpperCase() : '';
  const label = KNOWN_COMMANDS.has(upper) ? upper : '_OTHER';
  if (spellings.size < MAX_SPELLINGS) spellings.set(name, label);
  return label;
}
