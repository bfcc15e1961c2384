package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// infoReport is info's output. The CLI tests compare `rivet info --json` and
// `rivet pages --json` with these fields of the fixtures' NAME.info.json.
type infoReport struct {
	File             string      `json:"file"`
	FileSize         int         `json:"file_size"`
	PageSize         int         `json:"page_size"`
	Metas            [2]metaInfo `json:"metas"`
	ActiveMeta       int         `json:"active_meta"`
	FreelistSynced   bool        `json:"freelist_synced"`
	FreelistCount    int         `json:"freelist_count"`
	FreelistOverflow bool        `json:"freelist_count_overflow_form"`
	FreelistPageSpan int         `json:"freelist_page_span"`
	FreelistIDs      string      `json:"freelist_ids"`
	Census           census      `json:"census"`
	UnaccountedPages int         `json:"pages_neither_used_nor_listed"`
}

// runInfo prints, as indented JSON, what the file's bytes say: both metas, the
// stored freelist and a census of the trees. It reads no lock and does not use
// bbolt, so it also describes files bbolt would refuse.
func runInfo(args []string) error {
	if len(args) != 1 {
		return usageErr("info takes one FILE")
	}
	img, err := loadImage(args[0])
	if err != nil {
		return err
	}
	fl, err := img.freelist()
	if err != nil {
		return err
	}
	c := inspect(img)
	listed := map[uint64]bool{}
	for _, id := range fl.ids {
		listed[id] = true
	}
	unaccounted := 0
	for p := uint64(2); p < img.meta().HWM; p++ {
		if _, used := c.user[p]; !used && !listed[p] {
			unaccounted++
		}
	}
	r := infoReport{
		File:             filepath.Base(args[0]),
		FileSize:         len(img.bytes),
		PageSize:         img.pageSize,
		Metas:            img.metas,
		ActiveMeta:       img.active,
		FreelistSynced:   fl.synced,
		FreelistCount:    len(fl.ids),
		FreelistOverflow: fl.overflowForm,
		FreelistPageSpan: fl.span,
		FreelistIDs:      idRanges(fl.ids),
		Census:           c.counts,
		UnaccountedPages: unaccounted,
	}
	out, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	fmt.Println(string(out))
	return nil
}

// idRanges writes page ids in ascending order, runs of consecutive ids as
// FIRST-LAST: "2-5,9,12-20".
func idRanges(ids []uint64) string {
	s := append([]uint64(nil), ids...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	var parts []string
	for i := 0; i < len(s); {
		j := i
		for j+1 < len(s) && s[j+1] == s[j]+1 {
			j++
		}
		part := strconv.FormatUint(s[i], 10)
		if j > i {
			part += "-" + strconv.FormatUint(s[j], 10)
		}
		parts = append(parts, part)
		i = j + 1
	}
	return strings.Join(parts, ",")
}
