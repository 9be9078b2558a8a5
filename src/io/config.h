#pragma once
// Detectron2 yaml configs: `_BASE_` chains, Detectron2's defaults for every key not given, command-line
// style overrides (`--opts KEY VALUE ...`), and extraction of the typed ModelSpec that maskrt runs.
//
// Semantics follow detectron2/config/config.py (CfgNode.merge_from_file, _BASE_ resolution relative to
// the including file, later keys override earlier ones) and detectron2/config/defaults.py (defaults).
#include <array>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace maskrt {

// All hyperparameters the engine reads, taken from the merged config at run time.
struct ModelSpec {
  // INPUT
  std::string input_format = "BGR";      // INPUT.FORMAT: "BGR" or "RGB"
  int min_size_test = 800;               // INPUT.MIN_SIZE_TEST (0 = no resize)
  int max_size_test = 1333;              // INPUT.MAX_SIZE_TEST
  std::array<float, 3> pixel_mean{103.530f, 116.280f, 123.675f};  // MODEL.PIXEL_MEAN, in INPUT.FORMAT order
  std::array<float, 3> pixel_std{1.f, 1.f, 1.f};                  // MODEL.PIXEL_STD
  // MODEL.RESNETS
  int depth = 50;
  std::vector<std::string> resnet_out_features{"res2", "res3", "res4", "res5"};
  int num_groups = 1;
  int width_per_group = 64;
  bool stride_in_1x1 = true;
  int res5_dilation = 1;
  int res2_out_channels = 256;
  int stem_out_channels = 64;
  std::string resnet_norm = "FrozenBN";  // "FrozenBN", "BN", "SyncBN" (all evaluated with running stats)
  int freeze_at = 2;                     // MODEL.BACKBONE.FREEZE_AT (no effect at inference)
  // MODEL.FPN
  std::vector<std::string> fpn_in_features{"res2", "res3", "res4", "res5"};
  int fpn_out_channels = 256;
  std::string fpn_norm = "";
  std::string fpn_fuse_type = "sum";
  // MODEL.ANCHOR_GENERATOR
  // One list per RPN input feature (rpn_in_features order) after load_config: a single list in the
  // config is broadcast to every level, as anchor_generator._broadcast_params does.
  std::vector<std::vector<float>> anchor_sizes{{32}, {64}, {128}, {256}, {512}};
  std::vector<std::vector<float>> anchor_aspect_ratios{{0.5f, 1.f, 2.f}};
  float anchor_offset = 0.f;
  // MODEL.RPN
  std::vector<std::string> rpn_in_features{"p2", "p3", "p4", "p5", "p6"};
  int rpn_pre_nms_topk_test = 1000;
  int rpn_post_nms_topk_test = 1000;
  float rpn_nms_thresh = 0.7f;
  std::array<float, 4> rpn_bbox_reg_weights{1.f, 1.f, 1.f, 1.f};
  float proposal_min_size = 0.f;         // MODEL.PROPOSAL_GENERATOR.MIN_SIZE
  int rpn_head_conv_dims = -1;           // MODEL.RPN.CONV_DIMS [-1] -> in_channels
  // MODEL.ROI_HEADS
  int num_classes = 80;
  std::vector<std::string> roi_in_features{"p2", "p3", "p4", "p5"};
  float score_thresh_test = 0.05f;
  float nms_thresh_test = 0.5f;
  int detections_per_image = 100;        // TEST.DETECTIONS_PER_IMAGE
  // MODEL.ROI_BOX_HEAD
  int box_num_conv = 0;
  int box_conv_dim = 256;
  int box_num_fc = 2;
  int box_fc_dim = 1024;
  int box_pooler_resolution = 7;
  int box_pooler_sampling_ratio = 0;
  std::string box_pooler_type = "ROIAlignV2";
  std::array<float, 4> box_bbox_reg_weights{10.f, 10.f, 5.f, 5.f};
  bool cls_agnostic_bbox_reg = false;
  float bbox_reg_scale_clamp = 4.135166556742356f;  // log(1000/16), not a config key in Detectron2
  // MODEL.MASK_ON / MODEL.ROI_MASK_HEAD
  bool mask_on = true;
  int mask_num_conv = 4;
  int mask_conv_dim = 256;
  int mask_pooler_resolution = 14;
  int mask_pooler_sampling_ratio = 0;
  std::string mask_pooler_type = "ROIAlignV2";
  bool cls_agnostic_mask = false;
  // MODEL.WEIGHTS (informational; the CLI's --weights wins)
  std::string weights;
  std::string weights_where;  // who set MODEL.WEIGHTS, for messages: "file:line", "opts", or "" (default)
};

struct Config {
  YAML::Node merged;      // the complete config: Detectron2 defaults overlaid by the file chain and opts
                          // (scalars as text: floats in Python repr, bools true/false, None as null;
                          // tuples and lists both as flow sequences)
  ModelSpec spec;         // typed view of `merged`
  std::string canonical;  // canonical dump of `merged`: one line per leaf key, "DOTTED.KEY: <repr>\n",
                          // sorted by key (byte order), <repr> = Python's repr of the value as yacs
                          // holds it (int, float, bool, str, None, list, tuple), an empty node "{}".
                          // Equal to tools/reference/make_config_fixtures.py's dump of Detectron2's cfg.
  std::string hash;       // lowercase hex SHA-256 of `canonical` (the effective-config hash): equal
                          // configs give equal hashes whatever files and opts produced them
  std::string path;       // the file it came from (the origin label for load_config_from_string)
};

// Loads `path` (following _BASE_), applies `opts` (KEY VALUE pairs, values parsed as YAML like
// Detectron2's literal_eval), and validates. Reproduces `cfg = get_cfg(); cfg.merge_from_file(path);
// cfg.merge_from_list(opts)` (detectron2/config/config.py, fvcore/common/config.py, yacs/config.py):
//   - yaml is read as PyYAML safe_load reads it (YAML 1.1: yes/no/on/off are booleans, "1e-3" is a
//     string, `!!python/tuple` is accepted as Detectron2's unsafe fallback does);
//   - _BASE_ (a path or a list of paths; relative to the including file, "~" expanded) is loaded
//     first and the child is merged over it: mappings merge key by key, lists and scalars replace;
//   - VERSION: absent -> 2 (unless the file has the v1 keys MODEL.WEIGHT / TEST.AUG_ON); > 2 is an
//     error; < 2 (Detectron2's automatic v1 upgrade) is kUnsupported;
//   - every string value from the files and every opts value is decoded by Python literal_eval
//     rules ("640" -> 640, "[1, 2]" -> list, "foo/bar" stays a string);
//   - keys must exist in Detectron2's defaults (no get_cfg() node allows new keys); a value must have
//     the default's type, except that None may replace or be replaced by any plain value and lists
//     and tuples convert into each other (int -> float is NOT allowed, as in yacs).
// Then ModelSpec is filled (anchor sizes and aspect ratios broadcast to one list per RPN input
// feature like anchor_generator._broadcast_params; a 1-value PIXEL_MEAN/STD broadcast to 3 channels)
// and validated. Throws maskrt::Error:
//   kIo          — `path` does not exist or cannot be read;
//   kBadConfig  — malformed yaml (names file and line), empty file, missing _BASE_ target, _BASE_
//                 cycle, unknown key (names the full key and the file:line, e.g.
//                 "MODEL.ROI_HEADS.NUM_CLASSE"), wrong value type (names key, expected and found
//                 type), odd number of opts, and values Detectron2 would reject when building the
//                 model (NUM_CLASSES < 1, thresholds outside [0, 1], TEST.DETECTIONS_PER_IMAGE < 1,
//                 DEPTH not in 18/34/50/101/152, R18/R34 with RES2_OUT_CHANNELS != 64 or
//                 NUM_GROUPS != 1, FPN.IN_FEATURES not a contiguous run of RESNETS.OUT_FEATURES
//                 ending at res5, RPN/ROI in_features that are not FPN outputs, anchor lists whose
//                 length is neither 1 nor the number of RPN levels, ...);
//   kUnsupported — a valid Detectron2 setting maskrt does not run (names key and value), e.g.
//                 MODEL.META_ARCHITECTURE != GeneralizedRCNN, MODEL.BACKBONE.NAME not
//                 build_resnet_fpn_backbone, ROI_HEADS.NAME != StandardROIHeads (cascade, C4),
//                 box/mask head names, NORM "GN" (RESNETS, FPN, box and mask heads), pooler types
//                 other than ROIAlignV2/ROIAlign, DEFORM_ON_PER_STAGE, KEYPOINT_ON, LOAD_PROPOSALS,
//                 USE_SIGMOID_CE, RES5_DILATION != 1 (DC5), INPUT.FORMAT not BGR/RGB, more than one
//                 RPN conv, a URL as _BASE_, a VERSION 1 config.
// The mask head keys are validated only when MODEL.MASK_ON is true (Detectron2 does not build the
// head otherwise). Thread-safe (no shared mutable state).
Config load_config(const std::string& path, const std::vector<std::string>& opts = {});

// Same, starting from a yaml string; `origin` names it in messages and relative _BASE_ paths are
// resolved against its directory (the current directory when it has none).
Config load_config_from_string(const std::string& yaml_text, const std::string& origin,
                               const std::vector<std::string>& opts = {});

}  // namespace maskrt
