//! Deterministic bodies and their digests.
//!
//! A body of `n` bytes is a pure function of `n`, so any client can check every byte without a
//! reference fetch. Block `k` (8 bytes, little endian) of a body of size `n` is
//! `mix(n * 0x9E3779B97F4A7C15 + k)` where `mix` is the SplitMix64 finaliser:
//!
//! ```text
//! z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
//! z = (z ^ (z >> 27)) * 0x94D049BB133111EB
//! z =  z ^ (z >> 31)                          (all arithmetic wrapping, u64)
//! ```
//!
//! The last block is cut to the body's length. Digests (sha-256, crc32c) are computed here with
//! small local implementations so the crate needs nothing beyond hyper and tokio.

use hyper::body::Bytes;
use std::collections::HashMap;
use std::sync::Mutex;

/// Golden-ratio increment used to spread sizes over the SplitMix64 sequence.
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// mix is SplitMix64's finaliser: one 64-bit word of the body per block index.
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// generate builds the body of `n` bytes (see the module comment for the formula).
pub fn generate(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n + 8);
    let base = (n as u64).wrapping_mul(GOLDEN);
    let mut k: u64 = 0;
    while out.len() < n {
        out.extend_from_slice(&mix(base.wrapping_add(k)).to_le_bytes());
        k += 1;
    }
    out.truncate(n);
    out
}

/// Digest names one algorithm of RFC 9530's registry that this server can produce.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Digest {
    Sha256,
    Crc32c,
}

impl Digest {
    /// name is the token used in `Content-Digest` / `Want-Content-Digest`.
    pub fn name(self) -> &'static str {
        match self {
            Digest::Sha256 => "sha-256",
            Digest::Crc32c => "crc32c",
        }
    }
}

/// choose_digest picks the algorithm from a `Want-Content-Digest` header value
/// (`crc32c=9, sha-256=1`): the highest weight among those supported wins, weight 0 means
/// "not this one". No header, or nothing usable, gives sha-256.
pub fn choose_digest(want: Option<&str>) -> Digest {
    let Some(want) = want else {
        return Digest::Sha256;
    };
    let mut best: Option<(u32, Digest)> = None;
    for item in want.split(',') {
        let item = item.trim();
        let (name, weight) = match item.split_once('=') {
            Some((n, w)) => (n.trim(), w.trim().parse::<u32>().unwrap_or(0)),
            None => (item, 1),
        };
        let alg = match name.to_ascii_lowercase().as_str() {
            "sha-256" => Digest::Sha256,
            "crc32c" => Digest::Crc32c,
            _ => continue,
        };
        if weight == 0 {
            continue;
        }
        if best.is_none_or(|(w, _)| weight > w) {
            best = Some((weight, alg));
        }
    }
    best.map_or(Digest::Sha256, |(_, a)| a)
}

/// Cache keeps generated bodies and their digests by size, so a burst of requests for the same
/// size costs one generation. Bounded by total bytes: when full it is simply emptied.
pub struct Cache {
    inner: Mutex<CacheInner>,
    limit: usize,
}

struct CacheInner {
    bodies: HashMap<usize, Bytes>,
    digests: HashMap<(usize, Digest), String>,
    total: usize,
}

impl Cache {
    /// new makes a cache holding at most `limit` bytes of bodies.
    pub fn new(limit: usize) -> Cache {
        Cache {
            inner: Mutex::new(CacheInner {
                bodies: HashMap::new(),
                digests: HashMap::new(),
                total: 0,
            }),
            limit,
        }
    }

    /// body returns the body of `n` bytes and its `Content-Digest` value for `alg`.
    pub fn body(&self, n: usize, alg: Digest) -> (Bytes, String) {
        let mut c = self.inner.lock().unwrap();
        let body = match c.bodies.get(&n) {
            Some(b) => b.clone(),
            None => {
                if c.total + n > self.limit {
                    c.bodies.clear();
                    c.total = 0;
                }
                let b = Bytes::from(generate(n));
                c.total += n;
                c.bodies.insert(n, b.clone());
                b
            }
        };
        let digest = match c.digests.get(&(n, alg)) {
            Some(d) => d.clone(),
            None => {
                let raw = match alg {
                    Digest::Sha256 => sha256(&body).to_vec(),
                    Digest::Crc32c => crc32c(&body).to_be_bytes().to_vec(),
                };
                let d = format!("{}=:{}:", alg.name(), base64(&raw));
                c.digests.insert((n, alg), d.clone());
                d
            }
        };
        (body, digest)
    }
}

/// sha256 is FIPS 180-4 SHA-256, written out plainly (about 200 MB/s optimised).
pub fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut block = |chunk: &[u8]| {
        let mut w = [0u32; 64];
        for i in 0..16 {
            w[i] = u32::from_be_bytes([
                chunk[4 * i],
                chunk[4 * i + 1],
                chunk[4 * i + 2],
                chunk[4 * i + 3],
            ]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    };
    let full = data.len() / 64 * 64;
    for chunk in data[..full].chunks_exact(64) {
        block(chunk);
    }
    let mut tail = data[full..].to_vec();
    tail.push(0x80);
    while tail.len() % 64 != 56 {
        tail.push(0);
    }
    tail.extend_from_slice(&((data.len() as u64).wrapping_mul(8)).to_be_bytes());
    for chunk in tail.chunks_exact(64) {
        block(chunk);
    }
    let mut out = [0u8; 32];
    for (i, x) in h.iter().enumerate() {
        out[4 * i..4 * i + 4].copy_from_slice(&x.to_be_bytes());
    }
    out
}

/// crc32c is CRC-32/Castagnoli (reflected polynomial 0x82F63B78), as Go's hash/crc32.Castagnoli.
pub fn crc32c(data: &[u8]) -> u32 {
    let mut table = [0u32; 256];
    for (i, t) in table.iter_mut().enumerate() {
        let mut c = i as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x82F6_3B78
            } else {
                c >> 1
            };
        }
        *t = c;
    }
    let mut crc = !0u32;
    for &b in data {
        crc = table[((crc ^ b as u32) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

/// base64 is the standard alphabet with padding (what RFC 9530 byte sequences use).
pub fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        out.push(A[(n >> 18) as usize & 63] as char);
        out.push(A[(n >> 12) as usize & 63] as char);
        out.push(if c.len() > 1 {
            A[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if c.len() > 2 {
            A[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        assert_eq!(
            base64(&sha256(b"")),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        assert_eq!(
            base64(&sha256(b"abc")),
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        let long = vec![b'a'; 1_000_000];
        assert_eq!(
            base64(&sha256(&long)),
            "zcduXJkU+5KBocfihNc+Z/GAmkiklyAOBG05zMcRLNA="
        );
    }

    #[test]
    fn generator_is_stable() {
        let b = generate(19);
        assert_eq!(b.len(), 19);
        assert_eq!(&b[..8], &mix(19u64.wrapping_mul(GOLDEN)).to_le_bytes());
        assert_eq!(generate(0).len(), 0);
    }

    #[test]
    fn digest_choice() {
        assert_eq!(choose_digest(None), Digest::Sha256);
        assert_eq!(choose_digest(Some("crc32c=9, sha-256=1")), Digest::Crc32c);
        assert_eq!(choose_digest(Some("sha-512=9, crc32c=0")), Digest::Sha256);
    }
}
