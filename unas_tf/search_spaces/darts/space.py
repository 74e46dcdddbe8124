"""The DARTS cell space with UNAS's factorized cells (UNAS Sec. 4), as a `SearchSpace`.

Each cell node picks two inputs and two ops with four independent selectors. The package holds
the genotype type and its codec (`genotype`), the ops (`ops`), the evaluation networks
(`networks`), the supernet (`supernet`), the architecture penalty (`penalty`) and the pictures
(`pictures`); this module is the space as the search, retraining and launchers see it.
"""

import tensorflow as tf

from unas_tf import config_checks
from unas_tf.search_spaces import base
from unas_tf.search_spaces.darts import genotype as darts_genotype
from unas_tf.search_spaces.darts import networks as darts_networks
from unas_tf.search_spaces.darts import penalty, pictures, supernet


@base.register
class DartsSpace(base.SearchSpace):
    """Normal and reduction cells of 4 nodes over a prefix of `darts_genotype.DARTS_OPS`."""

    name = darts_genotype.DartsGenotype.space
    networks = ("cifar", "imagenet")
    measures_latency = True
    _BUILDERS = {"cifar": darts_networks.cifar_network, "imagenet": darts_networks.imagenet_network}

    search_rules = {
        "layers": config_checks.POSITIVE_INT,
        "init_channels": config_checks.POSITIVE_INT,
        "num_ops": config_checks.Rule(
            lambda value: (
                config_checks.POSITIVE_INT.holds(value) and value <= len(darts_genotype.DARTS_OPS)
            ),
            f"1..{len(darts_genotype.DARTS_OPS)}",
        ),
        "stem": config_checks.one_of(darts_networks.Stem.KINDS),
    }
    network_rules = {
        "layers": config_checks.POSITIVE_INT,
        "init_channels": config_checks.POSITIVE_INT,
        "random_ops": config_checks.Rule(
            lambda value: (
                config_checks.NON_NEGATIVE_INT.holds(value)
                and value <= len(darts_genotype.DARTS_OPS)
            ),
            f"0 (all) .. {len(darts_genotype.DARTS_OPS)}",
        ),
        "auxiliary": config_checks.BOOLEAN,
    }

    def ops(self, config):
        """The op names a search of `config` chooses from (their order fixes op indices)."""
        return darts_genotype.DARTS_OPS[: config.num_ops]

    def choice_shapes(self, config):
        return darts_genotype.darts_choice_shapes(config.num_ops)

    def build_supernet(self, config, num_classes):
        return supernet.Supernet(
            num_classes, config.init_channels, config.layers, self.ops(config), stem=config.stem
        )

    def genotype_from_indices(self, indices, config):
        return darts_genotype.darts_from_indices(indices, self.ops(config))

    def architecture_penalty(self, samples, weight):
        """The repeated (input, op) pairs of the factorized cells (UNAS App. A.2)."""
        return penalty.architecture_penalty(samples, weight)

    def epoch_summaries(self, logits, genotype):
        probabilities = {key: tf.nn.softmax(value).numpy() for key, value in logits.items()}
        heatmap = pictures.selector_heatmap(probabilities, genotype.ops)
        tf.summary.image("selector_probabilities", heatmap)
        tf.summary.image("cells", pictures.cells_image(genotype))
        # Skip-connection collapse shows here first (search_warnings says it at the end).
        tf.summary.scalar(
            "argmax/normal_parameter_free_ops", darts_genotype.parameter_free_ops(genotype)
        )

    def search_warnings(self, genotype):
        """A warning when most of the normal cell's ops are parameter-free (skip / pool)."""
        count, total = darts_genotype.parameter_free_ops(genotype), 2 * darts_genotype.NUM_NODES
        if 2 * count <= total:
            return []
        return [
            f"{count} of the normal cell's {total} ops are parameter-free "
            f"({', '.join(darts_genotype.PARAMETER_FREE_OPS)}): the search may have collapsed "
            "onto them, DARTS's known failure; see the per-epoch "
            "argmax/normal_parameter_free_ops and entropy/* curves in TensorBoard"
        ]

    def describe(self, genotype):
        lines = []
        for cell in darts_genotype.DARTS_CELLS:
            described = ", ".join(
                f"[{a}:{genotype.ops[i]} + {b}:{genotype.ops[j]}]"
                for (a, b), (i, j) in ((node.inputs, node.ops) for node in getattr(genotype, cell))
            )
            lines.append(f"  {cell}: {described}")
        return lines

    def genotype_to_dict(self, genotype):
        return darts_genotype.darts_to_dict(genotype)

    def genotype_from_dict(self, data):
        return darts_genotype.darts_from_dict(data)

    def random_genotype(self, seed, config):
        """A random cell pair over the first `config.random_ops` ops (all for 0)."""
        ops = darts_genotype.DARTS_OPS[: config.random_ops or None]
        return darts_genotype.random_darts(seed, ops)

    def latency_network_settings(self, config, num_classes, image_size):
        """The evaluation network at the search's width, cells and stem (no auxiliary head)."""
        return {
            "stem": config.stem,
            "num_classes": num_classes,
            "init_channels": config.init_channels,
            "layers": config.layers,
            "image_size": image_size,
        }

    def latency_network(self, genotype, settings):
        """The evaluation network of `genotype` (`darts_networks`) built as `settings` say.

        The child of a search is the evaluation network at the supernet's size: the network a
        search of this size would retrain, inference only (no auxiliary head, no drop path).
        """
        settings = dict(settings)
        return self._BUILDERS[settings.pop("stem")](genotype, auxiliary=False, **settings)

    def latency_features(self, genotype):
        if not isinstance(genotype, darts_genotype.DartsGenotype):
            raise ValueError(
                "Invalid value received for argument `genotype`. Expected a DartsGenotype. "
                f"Received: genotype={genotype!r}"
            )
        return darts_genotype.darts_to_one_hot(genotype)

    def random_search_genotype(self, seed, config):
        """A uniformly random cell pair over the search's ops (`ops(config)`)."""
        return darts_genotype.random_darts(seed, self.ops(config))

    def build_network(self, genotype, config):
        return self._BUILDERS[config.network](
            genotype,
            num_classes=config.num_classes,
            init_channels=config.init_channels,
            layers=config.layers,
            auxiliary=config.auxiliary,
            drop_path_rate=config.drop_path_rate,
            image_size=config.image_size,
        )

    def set_drop_path_rate(self, model, rate):
        darts_networks.set_drop_path_rate(model, rate)

    def network_report(self, model, genotype, config):
        cells = [layer for layer in model.layers if isinstance(layer, darts_networks.Cell)]
        return {
            "init_channels": config.init_channels,
            "layers": config.layers,
            "cells": [
                {
                    "index": index,
                    "type": "reduce" if cell.reduction else "normal",
                    "output_shape": list(cell.output.shape[1:]),
                }
                for index, cell in enumerate(cells)
            ],
        }

    def draw(self, genotype, path):
        pictures.draw_darts(genotype, path)
