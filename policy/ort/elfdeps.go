package ort

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
)

// The dynamic loader reports only the first library it cannot find. A GPU
// provider needs several (CUDA runtime, cuBLAS, cuBLASLt, cuRAND, cuDNN),
// often installed in several folders (pip's nvidia-* packages each have
// their own lib folder), so efferent names every missing one at once,
// looking where glibc's loader looks: the library's RPATH or RUNPATH
// ($ORIGIN expanded), LD_LIBRARY_PATH, /etc/ld.so.cache and the default
// folders. It runs only after ONNX Runtime failed to load the library, so
// a mistake here can never stop a library that loads.

// maxLdCacheBytes bounds /etc/ld.so.cache as read (a typical one is
// tens of kilobytes).
const maxLdCacheBytes = 16 << 20

// defaultLibDirs are the loader's built-in folders on Debian (amd64 and
// arm64), after the cache.
var defaultLibDirs = []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"}

// missingDependencies lists the libraries path needs (its DT_NEEDED
// entries) that the loader would not find. Nil when path is not a
// readable ELF file: then ONNX Runtime's own message stands.
func missingDependencies(path string) []string {
	f, err := elf.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	needed, err := f.DynString(elf.DT_NEEDED)
	if err != nil {
		return nil
	}
	dirs := searchPath(path)
	cache := ldCache(ldCacheFile)
	var missing []string
	for _, lib := range needed {
		if strings.Contains(lib, "/") {
			if _, err := os.Stat(lib); err != nil {
				missing = append(missing, lib)
			}
			continue
		}
		if cache[lib] || loaded(lib) || inDirs(lib, dirs) {
			continue
		}
		missing = append(missing, lib)
	}
	return missing
}

// ldCacheFile is the loader's cache (a variable for tests).
var ldCacheFile = "/etc/ld.so.cache"

// searchPath is where the loader looks for path's dependencies, in its
// order, with the cache written as the file's name.
func searchPath(path string) []string {
	var dirs []string
	origin := filepath.Dir(path)
	expand := func(list string) {
		for _, d := range filepath.SplitList(list) {
			if d == "" {
				continue
			}
			d = strings.ReplaceAll(strings.ReplaceAll(d, "${ORIGIN}", origin), "$ORIGIN", origin)
			dirs = append(dirs, d)
		}
	}
	var rpath, runpath []string
	if f, err := elf.Open(path); err == nil {
		rpath, _ = f.DynString(elf.DT_RPATH)
		runpath, _ = f.DynString(elf.DT_RUNPATH)
		f.Close()
	}
	if len(runpath) == 0 {
		for _, r := range rpath {
			expand(r)
		}
	}
	expand(os.Getenv("LD_LIBRARY_PATH"))
	for _, r := range runpath {
		expand(r)
	}
	dirs = append(dirs, ldCacheFile)
	return append(dirs, defaultLibDirs...)
}

func inDirs(lib string, dirs []string) bool {
	for _, d := range dirs {
		if st, err := os.Stat(filepath.Join(d, lib)); err == nil && !st.IsDir() {
			return true
		}
	}
	return false
}

// loaded reports whether a library of that file name is already mapped
// into this process (the loader reuses a loaded library by its soname).
func loaded(lib string) bool {
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return false
	}
	return bytes.Contains(maps, []byte("/"+lib+"\n"))
}

// ldCache reads the library names in glibc's loader cache (the
// "glibc-ld.so.cache1.1" format Debian 12 writes; an older or unreadable
// cache gives none).
func ldCache(path string) map[string]bool {
	out := map[string]bool{}
	data, err := os.ReadFile(path)
	if err != nil || len(data) > maxLdCacheBytes {
		return out
	}
	const magic = "glibc-ld.so.cache1.1"
	i := bytes.Index(data, []byte(magic))
	if i < 0 {
		return out
	}
	hdr := data[i:]
	const hdrLen, entryLen = 48, 24 // magic+version 20, nlibs 4, strings 4, flags 1, pad 3, ext 4, unused 12
	if len(hdr) < hdrLen {
		return out
	}
	n := int(binary.LittleEndian.Uint32(hdr[20:]))
	if n < 0 || n > (len(hdr)-hdrLen)/entryLen {
		return out
	}
	for e := range n {
		key := int(binary.LittleEndian.Uint32(hdr[hdrLen+e*entryLen+4:]))
		// String offsets are from the start of the new-format header.
		if key <= 0 || key >= len(hdr) {
			continue
		}
		s := hdr[key:]
		if z := bytes.IndexByte(s, 0); z >= 0 {
			out[string(s[:z])] = true
		}
	}
	return out
}

// exportsSymbol reports whether the ELF library at path exports name (a
// plugin execution-provider library exports CreateEpFactories; a
// provider-bridge library only GetProvider). True when path cannot be
// read as ELF: then ONNX Runtime's own message stands.
func exportsSymbol(path, name string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return true
	}
	defer f.Close()
	syms, err := f.DynamicSymbols()
	if err != nil {
		return true
	}
	for _, s := range syms {
		if s.Name == name && s.Section != elf.SHN_UNDEF {
			return true
		}
	}
	return false
}
