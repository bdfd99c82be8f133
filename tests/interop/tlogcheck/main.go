// tlogcheck reads a custody log's C2SP tlog-tiles over HTTP with golang.org/x/mod/sumdb/tlog,
// an implementation independent of the portal's, and checks inclusion and consistency.
//
//	tlogcheck BASE_URL VERIFIER_KEY OLD_SIZE OLD_ROOT_B64 INDEX...
//
// It verifies the checkpoint at BASE_URL/checkpoint with the key, reads hash tiles from
// BASE_URL/tile/<L>/<N>[.p/<W>] (each checked by tlog against the signed root), proves that
// the tree extends the old one, and that each INDEX is in it. Prints "ok SIZE" on success.
package main

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type tiles struct{ base string }

func (t tiles) Height() int { return 8 }

func get(url string) ([]byte, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return io.ReadAll(resp.Body)
}

func (t tiles) ReadTiles(ts []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(ts))
	for i, tile := range ts {
		// tlog names tiles tile/<H>/<L>/<N>; C2SP tlog-tiles drops the height.
		path := strings.Replace(tile.Path(), "tile/8/", "tile/", 1)
		data, err := get(t.base + "/" + path)
		if err != nil {
			return nil, err
		}
		out[i] = data
	}
	return out, nil
}

func (t tiles) SaveTiles([]tlog.Tile, [][]byte) {}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func hashOf(b64 string) tlog.Hash {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != tlog.HashSize {
		fail("bad hash %q", b64)
	}
	var h tlog.Hash
	copy(h[:], raw)
	return h
}

func main() {
	if len(os.Args) < 5 {
		fail("usage: tlogcheck BASE_URL VERIFIER_KEY OLD_SIZE OLD_ROOT_B64 INDEX...")
	}
	base := os.Args[1]
	verifier, err := note.NewVerifier(os.Args[2])
	if err != nil {
		fail("verifier: %v", err)
	}
	raw, err := get(base + "/checkpoint")
	if err != nil {
		fail("%v", err)
	}
	n, err := note.Open(raw, note.VerifierList(verifier))
	if err != nil {
		fail("checkpoint: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 {
		fail("checkpoint too short")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		fail("checkpoint size: %v", err)
	}
	tree := tlog.Tree{N: size, Hash: hashOf(lines[2])}
	hr := tlog.TileHashReader(tree, tiles{base})

	oldSize, err := strconv.ParseInt(os.Args[3], 10, 64)
	if err != nil {
		fail("old size: %v", err)
	}
	treeProof, err := tlog.ProveTree(tree.N, oldSize, hr)
	if err != nil {
		fail("prove tree: %v", err)
	}
	if err := tlog.CheckTree(treeProof, tree.N, tree.Hash, oldSize, hashOf(os.Args[4])); err != nil {
		fail("consistency %d -> %d: %v", oldSize, tree.N, err)
	}
	for _, arg := range os.Args[5:] {
		index, err := strconv.ParseInt(arg, 10, 64)
		if err != nil {
			fail("index: %v", err)
		}
		leaf, err := hr.ReadHashes([]int64{tlog.StoredHashIndex(0, index)})
		if err != nil {
			fail("leaf %d: %v", index, err)
		}
		proof, err := tlog.ProveRecord(tree.N, index, hr)
		if err != nil {
			fail("prove record %d: %v", index, err)
		}
		if err := tlog.CheckRecord(proof, tree.N, tree.Hash, index, leaf[0]); err != nil {
			fail("inclusion of %d: %v", index, err)
		}
	}
	fmt.Printf("ok %d\n", tree.N)
}
