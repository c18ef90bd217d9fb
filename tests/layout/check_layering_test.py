#!/usr/bin/env python3
"""The layering check finds each kind of crossing on small trees, and the real tree has none.

Usage: check_layering_test.py PROJECT_ROOT
"""
import pathlib
import subprocess
import sys
import tempfile
import unittest

PROJECT_ROOT = pathlib.Path(sys.argv.pop(1) if len(sys.argv) > 1 else ".").resolve()
CHECKER = PROJECT_ROOT / "tests" / "layout" / "check_layering.py"


def run_checker(root):
    result = subprocess.run([sys.executable, str(CHECKER), str(root)], capture_output=True, text=True)
    return result.returncode, result.stdout


class SmallTrees(unittest.TestCase):
    def make_tree(self, files):
        directory = tempfile.TemporaryDirectory()
        self.addCleanup(directory.cleanup)
        root = pathlib.Path(directory.name)
        base = {"core/common/error.h": "", "core/model/model.h": '#include "core/common/error.h"\n'}
        for relative, text in {**base, **files}.items():
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            (root / relative).write_text(text)
        return root

    def test_a_tree_in_order_passes(self):
        root = self.make_tree({
            "job/job.h": '#include "core/common/error.h"\n',
            "trainer/step.cc": '#include "job/job.h"\n#include "dpo/v1/service.pb.h"\n#include <vector>\n',
            "launcher/main.cc": '#include "trainer/step.h"\n',
        })
        self.assertEqual(run_checker(root), (0, "check_layering: no include or link runs against the layer order\n"))

    def test_siblings_including_each_other_fail(self):
        root = self.make_tree({"trainer/remote.cc": '// x\n#include "reference_server/wire/score.h"\n'})
        code, out = run_checker(root)
        self.assertEqual(code, 1)
        self.assertIn("trainer/remote.cc:2: includes \"reference_server/wire/score.h\"", out)
        self.assertIn("siblings", out)

    def test_a_lower_layer_including_a_higher_one_fails(self):
        root = self.make_tree({"job/job.cc": '#include "trainer/loop/lr_schedule.h"\n'})
        code, out = run_checker(root)
        self.assertEqual(code, 1)
        self.assertIn("job/job.cc:1", out)
        self.assertIn("job may not use trainer", out)

    def test_core_folders_keep_their_order(self):
        root = self.make_tree({"core/common/log.cc": '#include "core/model/model.h"\n'})
        code, out = run_checker(root)
        self.assertEqual(code, 1)
        self.assertIn("core/common may not use core/model", out)

    def test_generated_headers_count_as_proto(self):
        root = self.make_tree({"core/data/batch.h": '#include "dpo/v1/service.pb.h"\n'})
        code, out = run_checker(root)
        self.assertEqual(code, 1)
        self.assertIn("core may not use proto", out)

    def test_a_link_against_the_order_fails(self):
        root = self.make_tree({
            "trainer/metrics/CMakeLists.txt": "add_library(dpo_metrics_http STATIC m.cc)\n",
            "reference_server/server/CMakeLists.txt":
                "add_library(dpo_grpc STATIC s.cc)\n\ntarget_link_libraries(dpo_grpc PUBLIC\n  dpo_metrics_http)\n",
        })
        code, out = run_checker(root)
        self.assertEqual(code, 1)
        self.assertIn("reference_server/server/CMakeLists.txt:3: links dpo_metrics_http", out)


class ThisTree(unittest.TestCase):
    def test_the_project_follows_the_order(self):
        code, out = run_checker(PROJECT_ROOT)
        self.assertEqual(code, 0, out)


if __name__ == "__main__":
    unittest.main()
