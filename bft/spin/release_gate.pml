/*
 * bftgate's release gate as a Promela model: the register's one entry per version, the beta
 * barrier, the certificate quorum with one bit per signer, and the inference node's check and
 * floor. n = 4 validators, f = 1, quorum 2f+1 = 3. BYZ validators (ids 0..BYZ-1, so the first
 * primary is one of them) may sign anything, for any digest, at any time (they vote anything and
 * equivocate); up to F honest validators may wrongly pass an adapter (their suites miss it).
 *
 *   spin -a -DBYZ=1 release_gate.pml   the model's bound: every property holds
 *   spin -a -DBYZ=2 release_gate.pml   f+1 colluders: one_digest and no_bad_certificate fail
 *   -DBUG_UNVERIFIED_SIGNERS, -DBUG_FLIP_BEFORE_RECORD: seeded bugs that the properties catch
 *
 * bft/spin/README.md maps each variable to the C++ it stands for; check.sh runs it all.
 */
#ifndef BYZ
#define BYZ 1
#endif
#define N 4
#define F 1
#define Q (2 * F + 1)
#define V 2                 /* versions 1..V, as indexes 0..V-1 */
#define D 2                 /* per version: the operator's digest (0) and another one (1) */
#define E (V * D)           /* one adapter per (version, digest): index v * D + d */

#define POP(b) (((b) & 1) + (((b) >> 1) & 1) + (((b) >> 2) & 1) + (((b) >> 3) & 1))
#define CERTIFIED(x) (POP(approve[x]) >= Q)

bool good[E];               /* what the honest suites find: the adapter passes */
byte approve[E];            /* signer bitmap of the release approvals for each adapter */
byte missed[E];             /* honest validators that passed a failing adapter */

byte floor = 0;             /* the node's persisted floor: highest version recorded as served */
byte serving = 0;           /* the version the node serves (0: none, the base model) */
byte serving_adapter = E;   /* which adapter it serves (E: none) */
byte max_served = 0;        /* ghost: the highest version ever served */
bool loaded_uncertified = false;  /* ghost: the node flipped to an adapter without a certificate */
bool decreased = false;     /* ghost: the node flipped to a version below one it had served */

/* An honest validator: for each version in order it holds the one entry its register got for it
 * (the Byzantine primary may give validators different digests), validates it and signs an
 * approval only for a pass. It never signs two digests for one version. It may also not vote. */
proctype Honest(byte id) {
  byte v = 0;
  byte d;
  do
  :: v < V ->
     atomic {
       select(d : 0 .. D - 1);
       if
       :: good[v * D + d] -> approve[v * D + d] = approve[v * D + d] | (1 << id)
       :: !good[v * D + d] && missed[v * D + d] < F ->      /* its suites miss the regression */
          missed[v * D + d]++;
          approve[v * D + d] = approve[v * D + d] | (1 << id)
       :: true                                               /* FAIL, or no vote (crashed) */
       fi;
       d = 0;
       v++
     }
  :: v == V -> break
  od
}

/* A Byzantine validator signs approvals for any adapter, any number of digests per version. */
proctype Byzantine(byte id) {
  byte x;
  do
  :: atomic {
       select(x : 0 .. E - 1);
       approve[x] = approve[x] | (1 << id);
       x = 0
     }
  :: break
  od
}

/* The inference node: an offer (any version and digest, with any claimed signer bitmap; a
 * Byzantine validator may offer anything) is accepted only if the signatures that verify
 * (claimed bits that really signed) reach the quorum and the version is above what it serves and
 * not below its floor (the floor itself may be loaded again after a restart). It then records the
 * floor (fsync'd) and flips, in two steps; a restart may come between any two steps and loses
 * everything but the recorded floor. */
#define RECORD  if :: pending / D + 1 > floor -> floor = pending / D + 1 :: else -> skip fi
#define FLIP    loaded_uncertified = loaded_uncertified || !CERTIFIED(pending); \
                decreased = decreased || pending / D + 1 < max_served; \
                serving = pending / D + 1; serving_adapter = pending; \
                if :: serving > max_served -> max_served = serving :: else -> skip fi
byte pending = E;           /* the adapter accepted, not yet served (E: none) */
byte step = 0;              /* how far its installation got: 0, 1 (one of record/flip), 2 */

proctype Node() {
  byte x;
  byte claimed;
  do
  :: pending == E ->
     atomic {
       select(x : 0 .. E - 1);
       select(claimed : 0 .. 15);
       if
#ifdef BUG_UNVERIFIED_SIGNERS
       /* Seeded bug: counts the claimed signers without checking their signatures. */
       :: POP(claimed) >= Q && x / D + 1 > serving && x / D + 1 >= floor -> pending = x
#else
       :: POP(claimed & approve[x]) >= Q && x / D + 1 > serving && x / D + 1 >= floor -> pending = x
#endif
       :: else -> skip
       fi;
       x = 0; claimed = 0
     }
#ifndef BUG_FLIP_BEFORE_RECORD
  :: pending != E && step == 0 -> atomic { RECORD; step = 1 }
  :: pending != E && step == 1 -> atomic { FLIP; pending = E; step = 0 }
#else
  /* Seeded bug (the node's order before this model was written): flip, then record. */
  :: pending != E && step == 0 -> atomic { FLIP; step = 1 }
  :: pending != E && step == 1 -> atomic { RECORD; pending = E; step = 0 }
#endif
  :: atomic { serving = 0; serving_adapter = E; pending = E; step = 0 }  /* a restart */
  :: break
  od
}

init {
  byte x = 0;
  /* Each version has a passing and a failing digest, in both orders: version 1's operator digest
   * passes and the other fails; version 2 the other way round. */
  good[0] = true; good[1] = false; good[2] = false; good[3] = true;
  atomic {
    do
    :: x < BYZ -> run Byzantine(x); x++
    :: x >= BYZ && x < N -> run Honest(x); x++
    :: x == N -> break
    od;
    run Node()
  }
}

/* The node never serves an adapter without a certificate (the beta barrier: an entry in beta has
 * none). */
ltl no_uncertified_load { [] !loaded_uncertified }
/* Versions served never decrease, restarts included. */
ltl monotonic { [] !decreased }
/* No version has two digests certified. */
ltl one_digest { [] !((CERTIFIED(0) && CERTIFIED(1)) || (CERTIFIED(2) && CERTIFIED(3))) }
/* An adapter the suites fail (at most F honest validators miss it) is never certified. */
ltl no_bad_certificate {
  [] !((CERTIFIED(0) && !good[0]) || (CERTIFIED(1) && !good[1]) ||
       (CERTIFIED(2) && !good[2]) || (CERTIFIED(3) && !good[3]))
}
