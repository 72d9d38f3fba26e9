#!/usr/bin/env python3
"""Writes the download_counts.json that the download counter must produce for the real
CKAN-meta corpus when every host answers with the fake counts of
worker/tests/support/hosts.rs (the `model` there), computed independently of the Rust code:
the reference's rules (NetKAN-Infra download_counter.py, reference section 1.7) written
plainly, without batching, and dumped with Python's own json module.

The latest non-prerelease version of each identifier comes from
common/tests/data/ckan-meta-highest.tsv (itself an independent port of the reference's
version ordering); the redistributable licenses from common/src/ckan/names.rs.

Usage: download_counts_expected.py <unpacked CKAN-meta dir> > download-counts-corpus.json
"""

import json
import re
import sys
from pathlib import Path
from urllib.parse import urlparse

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]

MIME_TO_EXTENSION = {
    'application/x-gzip': 'gz',
    'application/x-tar': 'tar',
    'application/x-compressed-tar': 'tar.gz',
    'application/zip': 'zip',
    'application/vnd.github+json': 'zip',
}


def licenses():
    text = (ROOT / 'common/src/ckan/names.rs').read_text()
    block = text[text.index('REDISTRIBUTABLE_LICENSES'):]
    block = block[block.index('['):block.index('];')]
    # The first `[` is the type `[&str; 84]`; the list follows `= [`.
    block = block[block.index('= [') + 3:] if '= [' in block else block
    return set(re.findall(r'"([^"]+)"', block))


REDISTRIBUTABLE = None


def fnv(text):
    h = 0x811c9dc5
    for b in text.encode():
        h ^= b
        h = (h * 0x01000193) & 0xffffffff
    return h


# --- the fake hosts' answers (must match worker/tests/support/hosts.rs) ---

def gh_missing(owner, repo):
    return fnv(f'gh:{owner}/{repo}') % 23 == 0


def gh_own(owner, repo):
    return fnv(f'gh-count:{owner}/{repo}') % 100000


def gh_parent(owner, repo):
    if fnv(f'gh-parent:{owner}/{repo}') % 3 == 0:
        return (f'{owner}-up', repo)
    return None


def gh_total(owner, repo, depth=0):
    total = gh_own(owner, repo)
    parent = gh_parent(owner, repo)
    # The query asks for three parent levels.
    if parent and depth < 3:
        total += gh_total(*parent, depth + 1)
    return total


def sd_answer(mod_id):
    key = str(mod_id)
    if fnv(f'sd:{key}') % 13 == 0:
        return None
    if fnv(f'sd-zero:{key}') % 11 == 0:
        return 0
    return fnv(f'sd-count:{key}') % 50000


def ia_answer(item):
    if fnv(f'ia:{item}') % 9 == 0:
        return None
    return fnv(f'ia-count:{item}') % 1000


def sf_answer(project):
    return fnv(f'sf-count:{project}') % 10000


# --- the reference's rules ---

def bucket_sanitize(s):
    return re.sub(r'^[^a-zA-Z0-9]+|[^a-zA-Z0-9._-]', '', s)[:100]


def format_version(version):
    return version.replace(' ', '_').replace(':', '-')


def downloads(ckan):
    download = ckan['download']
    urls = download if isinstance(download, list) else [download]
    lic = ckan.get('license')
    lics = lic if isinstance(lic, list) else [lic]
    redistributable = any(l in REDISTRIBUTABLE for l in lics)
    if redistributable and 'download_hash' in ckan \
            and ckan.get('download_content_type') in MIME_TO_EXTENSION:
        hashes = ckan['download_hash']
        prefix = (hashes['sha1'] if 'sha1' in hashes else hashes['sha256'])[0:8]
        version = format_version(ckan['version'])
        ext = MIME_TO_EXTENSION[ckan['download_content_type']]
        filename = f"{prefix}-{ckan['identifier']}-{version}.{ext}"
        urls = [*urls, f"https://archive.org/download/{ckan['identifier']}-{version}/{filename}"]
    return urls


def latest_modules(meta):
    highest = {}
    for line in (ROOT / 'common/tests/data/ckan-meta-highest.tsv').read_text().splitlines():
        ident, stable, _pre = line.split('\t')
        if stable:
            highest[ident] = stable
    for ident, stable in sorted(highest.items()):
        for f in sorted((meta / ident).glob('*.ckan')):
            ckan = json.loads(f.read_text(encoding='utf-8'))
            if ckan.get('release_status') in ('testing', 'development'):
                continue
            if str(ckan.get('version')) == stable:
                yield ckan
                break
        else:
            sys.exit(f'no file of {ident} has version {stable}')


def main():
    global REDISTRIBUTABLE
    REDISTRIBUTABLE = licenses()
    assert len(REDISTRIBUTABLE) > 50, 'the license list was not found'
    meta = Path(sys.argv[1])
    counts = {}

    def add(ident, n):
        counts[ident] = counts.get(ident, 0) + n

    for ckan in latest_modules(meta):
        if ckan.get('kind', 'package') == 'dlc' or 'download' not in ckan:
            continue
        ident = ckan['identifier']
        github, spacedock, archive, sourceforge = set(), set(), set(), set()
        for url in downloads(ckan):
            p = urlparse(url)
            if p.netloc == 'github.com':
                m = re.match(r'^/([^/]+)/([^/]+)', p.path)
                if m:
                    github.add(m.groups())
            elif p.netloc == 'spacedock.info':
                m = re.match(r'^/mod/([^/]+)', p.path)
                if m and m.group(1).isdigit():
                    spacedock.add(int(m.group(1)))
            elif p.netloc == 'archive.org':
                archive.add(bucket_sanitize(f"{ident}-{format_version(ckan['version'])}"))
            elif p.netloc.endswith('.sourceforge.net'):
                m = re.match(r'^/project/([^/]+)', p.path)
                if m:
                    sourceforge.add(m.group(1))
        for owner, repo in github:
            if not gh_missing(owner, repo):
                add(ident, gh_total(owner, repo))
        for mod_id in spacedock:
            n = sd_answer(mod_id)
            if n:
                add(ident, n)
        for item in archive:
            n = ia_answer(item)
            if n is not None:
                add(ident, n)
        for project in sourceforge:
            add(ident, sf_answer(project))
    sys.stdout.write(json.dumps(counts, sort_keys=True, indent=4))


if __name__ == '__main__':
    main()
